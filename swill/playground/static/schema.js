// The schemas of `swill.introspect` (PROTOCOL.md section 7), put to work: readable type names and
// constraints, an example message, a check of a message before it is sent (problems by path, in
// msgspec's words), and the conversion of editor JSON into the values MessagePack carries.
//
// The schemas describe MessagePack: `x-msgpack: "bin"` is bytes (base64 text in the editor, a
// Uint8Array on the wire), `"timestamp"` a datetime (RFC 3339 text in the editor, a Date on the
// wire), `"int64"` an integer that may leave ±2^53 (a bigint when it does).

import { childPath, fromBase64 } from "./json.js";

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
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
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
function compilePattern(pattern) {
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

// Checking.

/** The msgspec name of a JSON value's type: `str`, `int`, `float`, `bool`, `null`, `array`, `object`. */
export function jsonKind(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return "int";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "array";
  return "object";
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/**
 * The problems of `value` against `schema`, each `{path, message}`, in msgspec's words where
 * msgspec has some. All are reported, not only the first. Validators that run on the server
 * (`@swill.validator`) are beyond what a schema says; the server reports those.
 *
 * @returns {{path: string, message: string}[]}
 */
export function validate(schemas, schema, value, path = "$") {
  const problems = [];
  check(schemas, schema, value, path, problems, 0);
  return problems;
}

function check(schemas, schema, value, path, problems, depth) {
  if (depth > 64) {
    return;
  }
  const s = schemas.resolve(schema);
  const fail = (message, at = path) => problems.push({ path: at, message });
  if (s.anyOf !== undefined) {
    checkUnion(schemas, s, value, path, problems, depth);
    return;
  }
  if (s.enum !== undefined) {
    if (!s.enum.some((option) => option === value)) {
      fail(`Invalid enum value ${pyRepr(value)}`);
    }
    return;
  }
  if (s.const !== undefined) {
    if (value !== s.const) {
      fail(`Invalid value ${pyRepr(value)}`);
    }
    return;
  }
  const kind = jsonKind(value);
  const expected = kindName(schemas, s);
  const wrongType = () => fail(`Expected \`${expected}\`, got \`${kind}\``);
  switch (s.type) {
    case "null":
      if (kind !== "null") wrongType();
      return;
    case "boolean":
      if (kind !== "bool") wrongType();
      return;
    case "integer":
    case "number":
      if (kind !== "int" && !(kind === "float" && s.type === "number")) {
        wrongType();
        return;
      }
      checkNumber(s, value, expected, fail);
      return;
    case "string":
      if (kind !== "str") {
        wrongType();
        return;
      }
      checkString(s, value, expected, fail);
      return;
    case "array":
      if (kind !== "array") {
        wrongType();
        return;
      }
      checkArray(schemas, s, value, path, problems, depth, fail);
      return;
    case "object":
      if (kind !== "object") {
        wrongType();
        return;
      }
      checkObject(schemas, s, value, path, problems, depth, fail);
      return;
    default:
      return; // any value
  }
}

function checkNumber(s, value, expected, fail) {
  const n = Number(value);
  // msgspec's words: an int's exclusive bound as the inclusive one, a float's bound as a float.
  const integer = s.type === "integer";
  const show = (bound) => (integer || !Number.isInteger(bound) ? String(bound) : `${bound}.0`);
  if (s.minimum !== undefined && n < s.minimum) fail(`Expected \`${expected}\` >= ${show(s.minimum)}`);
  if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum) {
    fail(integer ? `Expected \`${expected}\` >= ${s.exclusiveMinimum + 1}` : `Expected \`${expected}\` > ${show(s.exclusiveMinimum)}`);
  }
  if (s.maximum !== undefined && n > s.maximum) fail(`Expected \`${expected}\` <= ${show(s.maximum)}`);
  if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum) {
    fail(integer ? `Expected \`${expected}\` <= ${s.exclusiveMaximum - 1}` : `Expected \`${expected}\` < ${show(s.exclusiveMaximum)}`);
  }
  if (s.multipleOf !== undefined) {
    const ratio = n / s.multipleOf;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9) fail(`Expected \`${expected}\` that's a multiple of ${show(s.multipleOf)}`);
  }
}

function checkString(s, value, expected, fail) {
  let length = [...value].length;
  if (s["x-msgpack"] === "bin") {
    const bytes = fromBase64(value);
    if (bytes === undefined) {
      fail("Expected `bytes` as base64 text");
      return;
    }
    length = bytes.length;
  }
  if (s.minLength !== undefined && length < s.minLength) fail(`Expected \`${expected}\` of length >= ${s.minLength}`);
  if (s.maxLength !== undefined && length > s.maxLength) fail(`Expected \`${expected}\` of length <= ${s.maxLength}`);
  if (s.pattern !== undefined && compilePattern(s.pattern)?.test(value) === false) {
    fail(`Expected \`str\` matching regex ${pyRepr(s.pattern)}`);
  }
  if (s["x-msgpack"] === "timestamp") {
    const match = RFC3339.exec(value);
    if (match === null || Number.isNaN(Date.parse(value.replace(" ", "T")))) {
      fail("Invalid RFC3339 encoded datetime");
    } else if (match[3] === undefined) {
      fail("Expected `datetime` with a timezone component");
    }
  } else if (s.format === "uuid" && !UUID.test(value)) {
    fail("Invalid UUID");
  } else if (s.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    fail("Invalid RFC3339 encoded date");
  } else if (s.format === "decimal" && !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$/i.test(value)) {
    fail("Invalid decimal string");
  }
}

function checkArray(schemas, s, value, path, problems, depth, fail) {
  if (s.prefixItems !== undefined) {
    const min = s.minItems ?? s.prefixItems.length;
    const max = s.maxItems ?? (s.items === false ? s.prefixItems.length : Infinity);
    if (value.length < min || value.length > max) {
      const wanted = min === max ? `length ${min}` : value.length < min ? `at least length ${min}` : `at most length ${max}`;
      fail(`Expected \`array\` of ${wanted}, got ${value.length}`);
    }
    value.forEach((item, i) => {
      const itemSchema = s.prefixItems[i] ?? (typeof s.items === "object" ? s.items : undefined);
      if (itemSchema !== undefined) {
        check(schemas, itemSchema, item, childPath(path, i), problems, depth + 1);
      }
    });
    return;
  }
  if (s.minItems !== undefined && value.length < s.minItems) fail(`Expected \`array\` of length >= ${s.minItems}`);
  if (s.maxItems !== undefined && value.length > s.maxItems) fail(`Expected \`array\` of length <= ${s.maxItems}`);
  if (typeof s.items === "object") {
    value.forEach((item, i) => check(schemas, s.items, item, childPath(path, i), problems, depth + 1));
  }
}

function checkObject(schemas, s, value, path, problems, depth, fail) {
  const keys = Object.keys(value);
  if (s.properties !== undefined) {
    for (const name of s.required ?? []) {
      if (!Object.hasOwn(value, name)) {
        fail(`Object missing required field \`${name}\``);
      }
    }
    for (const key of keys) {
      if (Object.hasOwn(s.properties, key)) {
        check(schemas, s.properties[key], value[key], childPath(path, key), problems, depth + 1);
      } else if (s.additionalProperties === false) {
        fail(`Object contains unknown field \`${key}\``, childPath(path, key));
      }
    }
    return;
  }
  if (s.minProperties !== undefined && keys.length < s.minProperties) fail(`Expected \`object\` of length >= ${s.minProperties}`);
  if (s.maxProperties !== undefined && keys.length > s.maxProperties) fail(`Expected \`object\` of length <= ${s.maxProperties}`);
  const keyType = s.propertyNames === undefined ? undefined : schemas.resolve(s.propertyNames).type;
  for (const key of keys) {
    if (keyType !== undefined && keyType !== "string") {
      fail(`Expected \`${kindName(schemas, s.propertyNames)}\`, got \`str\` (in a key): JSON keys are text, so the playground can't send this map's keys`, childPath(path, key));
    } else if (s.propertyNames !== undefined) {
      const before = problems.length;
      check(schemas, { type: "string", ...s.propertyNames }, key, childPath(path, key), problems, depth + 1);
      for (const problem of problems.slice(before)) {
        problem.message += " (in a key)";
      }
    }
    if (typeof s.additionalProperties === "object") {
      check(schemas, s.additionalProperties, value[key], childPath(path, key), problems, depth + 1);
    }
  }
}

function checkUnion(schemas, s, value, path, problems, depth) {
  const discriminator = discriminatorOf(s);
  if (discriminator !== undefined && jsonKind(value) === "object") {
    const tag = value[discriminator.propertyName];
    const target = discriminator.mapping?.[tag];
    if (target !== undefined) {
      check(schemas, { $ref: target }, value, path, problems, depth + 1);
      return;
    }
    if (tag === undefined) {
      problems.push({ path, message: `Object missing required field \`${discriminator.propertyName}\`` });
    } else {
      problems.push({ path: childPath(path, discriminator.propertyName), message: `Invalid value ${pyRepr(tag)}` });
    }
    return;
  }
  const options = s.anyOf.flatMap((option) => (option.discriminator !== undefined ? option.anyOf : [option]));
  let best;
  for (const option of options) {
    const found = validate(schemas, option, value, path);
    if (found.length === 0) {
      return;
    }
    // The option of the value's own kind says the most about what is wrong.
    if (kindMatches(schemas, option, value) && (best === undefined || found.length < best.length)) {
      best = found;
    }
  }
  if (best !== undefined) {
    problems.push(...best);
  } else {
    problems.push({ path, message: `Expected \`${kindName(schemas, s)}\`, got \`${jsonKind(value)}\`` });
  }
}

/** A union's tag field and the schema of each tag (msgspec's tagged Structs), if it has them. */
function discriminatorOf(union) {
  return union.discriminator ?? union.anyOf.find((option) => option.discriminator !== undefined)?.discriminator;
}

function kindMatches(schemas, schema, value) {
  const s = schemas.resolve(schema);
  const kind = jsonKind(value);
  if (s.enum !== undefined) {
    return s.enum.some((option) => jsonKind(option) === kind);
  }
  const kinds = { integer: ["int"], number: ["int", "float"], string: ["str"], boolean: ["bool"], null: ["null"], array: ["array"], object: ["object"] };
  return kinds[s.type]?.includes(kind) ?? false;
}

/** A value the way Python's repr shows it, as msgspec's messages do: `'text'`, `1`, `True`. */
function pyRepr(value) {
  if (typeof value === "string") {
    return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  }
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// Conversion.

/**
 * The value to send for editor JSON: base64 text becomes bytes, RFC 3339 text a Date, where the
 * schema says so. Call it on a value that `validate` accepted.
 */
export function toWire(schemas, schema, value, depth = 0) {
  if (depth > 64) {
    return value;
  }
  const s = schemas.resolve(schema);
  if (s.anyOf !== undefined) {
    const discriminator = discriminatorOf(s);
    if (discriminator !== undefined && jsonKind(value) === "object") {
      const target = discriminator.mapping?.[value[discriminator.propertyName]];
      if (target !== undefined) {
        return toWire(schemas, { $ref: target }, value, depth + 1);
      }
    }
    const options = s.anyOf.flatMap((option) => (option.discriminator !== undefined ? option.anyOf : [option]));
    const match = options.find((option) => validate(schemas, option, value).length === 0);
    return match === undefined ? value : toWire(schemas, match, value, depth + 1);
  }
  if (typeof value === "string") {
    if (s["x-msgpack"] === "bin") {
      return fromBase64(value) ?? value;
    }
    if (s["x-msgpack"] === "timestamp") {
      const date = new Date(value.replace(" ", "T"));
      return Number.isNaN(date.getTime()) ? value : date;
    }
    return value;
  }
  if (Array.isArray(value) && s.type === "array") {
    return value.map((item, i) => {
      const itemSchema = s.prefixItems?.[i] ?? (typeof s.items === "object" ? s.items : undefined);
      return itemSchema === undefined ? item : toWire(schemas, itemSchema, item, depth + 1);
    });
  }
  if (jsonKind(value) === "object" && s.type === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      const itemSchema = s.properties?.[key] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
      out[key] = itemSchema === undefined ? item : toWire(schemas, itemSchema, item, depth + 1);
    }
    return out;
  }
  return value;
}
