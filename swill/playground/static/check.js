// Messages checked against their schemas before they are sent (problems by path, in msgspec's
// words), and editor JSON turned into the values MessagePack carries: base64 text into bytes,
// RFC 3339 text into a Date, where the schema says so (`x-msgpack`).

import { childPath, fromBase64 } from "./json.js";
import { compilePattern, kindName } from "./schema.js";

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
