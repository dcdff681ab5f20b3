// The schemas of `swill.introspect` (docs/protocol.md, "Built-in rpcs"), put to work: readable type names and
// constraints, and an example message. check.js checks messages against them.
//
// The schemas describe MessagePack: `x-msgpack: "bin"` is bytes (base64 text in the editor, a
// Uint8Array on the wire), `"timestamp"` a datetime (RFC 3339 text in the editor, a Date on the
// wire), `"int64"` an integer that may leave ±2^53 (a bigint when it does).

const REF = "#/schemas/";
const MAX_DEPTH = 12;

/** The shared schemas of a document, and what is known about them. */
export class Schemas {
  /** @param {Record<string, object>} components the document's `schemas` */
  constructor(components = {}) {
    this.components = components;
  }

  /** The name a `$ref` points at, or `undefined`. */
  refName(schema) {
    const ref = schema?.$ref;
    return typeof ref === "string" && ref.startsWith(REF) ? decodeURIComponent(ref.slice(REF.length)) : undefined;
  }

  /**
   * `schema` with its `$ref`s followed; the referring schema's own keys (a field's description,
   * default) win over the target's.
   */
  resolve(schema) {
    let out = schema ?? {};
    for (let hops = 0; hops < 32; hops++) {
      const name = this.refName(out);
      if (name === undefined) {
        return out;
      }
      const { $ref, ...rest } = out;
      out = { ...(this.components[name] ?? {}), ...rest };
    }
    return out;
  }
}

// Names and constraints.

/** What a schema's values are, in the words msgspec uses in its messages: `int`, `str`, ... */
export function kindName(schemas, schema) {
  const s = schemas.resolve(schema);
  if (s.anyOf !== undefined) {
    return s.anyOf.map((option) => kindName(schemas, option)).join(" | ");
  }
  if (s.enum !== undefined) {
    return s.title ?? "enum";
  }
  if (s["x-msgpack"] === "bin") {
    return "bytes";
  }
  if (s["x-msgpack"] === "timestamp") {
    return "datetime";
  }
  const names = { integer: "int", number: "float", string: "str", boolean: "bool", null: "null", array: "array", object: "object" };
  return names[s.type] ?? "any";
}

/**
 * A short, readable type: `Note`, `str`, `int[]`, `[int, int]`, `bytes`, `datetime | null`,
 * `map<str, int>`, `"low" | "high"`.
 */
export function typeLabel(schemas, schema, depth = 0) {
  if (depth > MAX_DEPTH) {
    return "…";
  }
  const name = schemas.refName(schema);
  if (name !== undefined) {
    return name;
  }
  const s = schema ?? {};
  const inner = (x) => typeLabel(schemas, x, depth + 1);
  if (s.anyOf !== undefined) {
    return s.anyOf.map(inner).join(" | ");
  }
  if (s.enum !== undefined) {
    const values = s.enum.map((v) => JSON.stringify(v));
    return s.title ?? (values.length <= 6 ? values.join(" | ") : `enum (${values.length} values)`);
  }
  if (s.const !== undefined) {
    return JSON.stringify(s.const);
  }
  if (s["x-msgpack"] === "bin") {
    return "bytes";
  }
  if (s["x-msgpack"] === "timestamp") {
    return "datetime";
  }
  if (s["x-msgpack"] === "ext") {
    return "ext";
  }
  switch (s.type) {
    case "integer":
      return "int";
    case "number":
      return "float";
    case "boolean":
      return "bool";
    case "null":
      return "null";
    case "string":
      return s.format === undefined ? "str" : s.format === "date-time" ? "datetime" : s.format;
    case "array":
      if (s.prefixItems !== undefined) {
        return s.title ?? `[${s.prefixItems.map(inner).join(", ")}]`;
      }
      if (s.items !== undefined && s.items !== false) {
        const item = inner(s.items);
        return item.includes(" | ") ? `(${item})[]` : `${item}[]`;
      }
      return "array";
    case "object":
      if (s.properties !== undefined) {
        return s.title ?? "object";
      }
      if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
        const key = s.propertyNames === undefined ? "str" : inner({ type: "string", ...s.propertyNames });
        return `map<${key}, ${inner(s.additionalProperties)}>`;
      }
      return "object";
    default:
      return "any";
  }
}

/** The constraints of a schema, as short phrases: `≥ 1`, `length 1–80`, `≤ 5 items`, ... */
export function constraints(schemas, schema) {
  const s = schemas.resolve(schema);
  const out = [];
  const range = (low, high, unit) => {
    if (low !== undefined && high !== undefined) {
      return low === high ? `${unit} ${low}` : `${unit} ${low}–${high}`;
    }
    return low !== undefined ? `${unit} ≥ ${low}` : high !== undefined ? `${unit} ≤ ${high}` : undefined;
  };
  // Swill(safe_integers=True) holds plain ints to what a JavaScript number holds exactly.
  const safe = s.type === "integer" && s.minimum === -Number.MAX_SAFE_INTEGER && s.maximum === Number.MAX_SAFE_INTEGER;
  if (safe) out.push("±(2^53 − 1)");
  if (s.minimum !== undefined && !safe) out.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && !safe) out.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
  if (s.multipleOf !== undefined) out.push(`multiple of ${s.multipleOf}`);
  const isBytes = s["x-msgpack"] === "bin";
  const length = range(s.minLength, s.maxLength, isBytes ? "size" : "length");
  if (length !== undefined) out.push(isBytes ? `${length} bytes` : length);
  if (s.pattern !== undefined) out.push(`pattern ${s.pattern}`);
  if (s.prefixItems === undefined) {
    const items = range(s.minItems, s.maxItems, "items");
    if (items !== undefined) out.push(items);
  }
  const props = range(s.minProperties, s.maxProperties, "keys");
  if (props !== undefined) out.push(props);
  if (s.uniqueItems) out.push("unique");
  if (s.type === "string" && s.format !== undefined && s.format !== "date-time") out.push(s.format);
  if (s["x-msgpack"] === "timestamp") out.push("RFC 3339, with a timezone");
  if (isBytes) out.push("base64");
  if (s.properties !== undefined && s.additionalProperties === false) out.push("no other fields");
  return out;
}

/**
 * The fields of an object schema, or of an array-like one (a Struct with `array_like`, a
 * NamedTuple: `prefixItems` with `x-name`); `undefined` for other schemas.
 *
 * @returns {{name: string, schema: object, required: boolean}[] | undefined}
 */
export function fields(schemas, schema) {
  const s = schemas.resolve(schema);
  if (s.type === "object" && s.properties !== undefined) {
    const required = new Set(s.required ?? []);
    return Object.entries(s.properties).map(([name, field]) => ({ name, schema: field, required: required.has(name) }));
  }
  if (s.type === "array" && s.prefixItems?.some((item) => item["x-name"] !== undefined)) {
    return s.prefixItems.map((item, i) => ({
      name: item["x-name"] ?? String(i),
      schema: item,
      required: i < (s.minItems ?? s.prefixItems.length),
    }));
  }
  return undefined;
}

/** The named schemas below `schema` (through arrays, maps and unions), in order. */
export function referencedNames(schemas, schema, depth = 0) {
  if (schema === undefined || schema === null || typeof schema !== "object" || depth > MAX_DEPTH) {
    return [];
  }
  const name = schemas.refName(schema);
  if (name !== undefined) {
    return [name];
  }
  const below = [
    ...(schema.anyOf ?? []),
    ...(schema.prefixItems ?? []),
    ...(typeof schema.items === "object" ? [schema.items] : []),
    ...(typeof schema.additionalProperties === "object" ? [schema.additionalProperties] : []),
  ];
  return [...new Set(below.flatMap((x) => referencedNames(schemas, x, depth + 1)))];
}

// Examples.

const STRING_CANDIDATES = ["string", "example", "text", "abc", "a", "a1", "A", "0", "x-1"];

/** A value that fits `schema`, for the editor: defaults and examples first, then the simplest. */
export function example(schemas, schema, hint = "", depth = 0) {
  const s = schemas.resolve(schema);
  if (s.default !== undefined) {
    return s.default;
  }
  if (Array.isArray(s.examples) && s.examples.length > 0) {
    return s.examples[0];
  }
  if (depth > 6) {
    return null;
  }
  if (s.const !== undefined) {
    return s.const;
  }
  if (s.enum !== undefined) {
    return s.enum[0];
  }
  if (s.anyOf !== undefined) {
    const options = s.anyOf.filter((option) => schemas.resolve(option).type !== "null");
    return options.length === 0 ? null : example(schemas, options[0], hint, depth + 1);
  }
  switch (s.type) {
    case "null":
      return null;
    case "boolean":
      return false;
    case "integer":
    case "number":
      return exampleNumber(s);
    case "string":
      return exampleString(s, hint);
    case "array": {
      if (s.prefixItems !== undefined) {
        return s.prefixItems.map((item) => example(schemas, item, item["x-name"] ?? "", depth + 1));
      }
      if (s.items === undefined || s.items === false) {
        return [];
      }
      const count = Math.min(Math.max(s.minItems ?? 1, 1), s.maxItems ?? 1);
      return Array.from({ length: count }, () => example(schemas, s.items, hint, depth + 1));
    }
    case "object": {
      if (s.properties !== undefined) {
        const out = {};
        for (const [name, field] of Object.entries(s.properties)) {
          out[name] = example(schemas, field, name, depth + 1);
        }
        return out;
      }
      const textKeys = s.propertyNames === undefined || schemas.resolve(s.propertyNames).type === undefined;
      if (typeof s.additionalProperties === "object" && (s.maxProperties ?? 1) > 0 && textKeys) {
        return { key: example(schemas, s.additionalProperties, "", depth + 1) };
      }
      return {};
    }
    default:
      return null;
  }
}

function exampleNumber(s) {
  const integer = s.type === "integer";
  const step = integer ? 1 : 0.5;
  const low = s.minimum ?? (s.exclusiveMinimum === undefined ? undefined : s.exclusiveMinimum + step);
  const high = s.maximum ?? (s.exclusiveMaximum === undefined ? undefined : s.exclusiveMaximum - step);
  let value = low !== undefined && low > 0 ? low : high !== undefined && high < 0 ? high : 0;
  if (s.multipleOf !== undefined) {
    value = Math.ceil(value / s.multipleOf) * s.multipleOf;
  }
  return integer ? Math.ceil(value) : value;
}

function exampleString(s, hint) {
  if (s["x-msgpack"] === "bin") {
    return (s.maxLength ?? 5) >= 5 && (s.minLength ?? 0) <= 5 ? "aGVsbG8=" : "";
  }
  const formats = {
    "date-time": new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    date: new Date().toISOString().slice(0, 10),
    time: "12:00:00Z",
    "partial-time": "12:00:00",
    duration: "PT1H",
    uuid: "00000000-0000-4000-8000-000000000000",
    decimal: "0",
  };
  if (s.format in formats) {
    return formats[s.format];
  }
  const fits = (text) => {
    const length = [...text].length;
    if (length < (s.minLength ?? 0) || length > (s.maxLength ?? Infinity)) {
      return false;
    }
    return s.pattern === undefined || compilePattern(s.pattern)?.test(text) !== false;
  };
  for (const candidate of [hint, ...STRING_CANDIDATES]) {
    if (candidate && fits(candidate)) {
      return candidate;
    }
  }
  const min = s.minLength ?? 0;
  return "x".repeat(min);
}

const patterns = new Map();

/** A regular expression from a schema pattern (Python's syntax, mostly JavaScript's too). */
export function compilePattern(pattern) {
  if (!patterns.has(pattern)) {
    let compiled;
    try {
      compiled = new RegExp(pattern, "u");
    } catch {
      try {
        compiled = new RegExp(pattern);
      } catch {
        compiled = undefined; // a pattern only Python reads: the server checks it
      }
    }
    patterns.set(pattern, compiled);
  }
  return patterns.get(pattern);
}
