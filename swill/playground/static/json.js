// JSON for the editors: a parser that remembers where each value sits (so that a problem at
// `$.items[0]` can be shown at its place in the text), a lenient tokenizer for highlighting, and
// a printer that writes what MessagePack carries and JSON lacks (bytes, dates, big integers).
//
// Paths are written the way msgspec writes them: `$`, `$.field`, `$[0]`.

/** @typedef {{start: number, end: number, keyStart?: number, keyEnd?: number}} Span */

/** A problem in JSON text: what, and where (a character offset). */
export class JsonSyntaxError extends Error {
  /** @param {string} message @param {number} offset */
  constructor(message, offset) {
    super(message);
    this.name = "JsonSyntaxError";
    this.offset = offset;
  }
}

/** The path of `key` below `parent`: `$.name`, or `$["odd key"]` when it is not a plain name. */
export function childPath(parent, key) {
  if (typeof key === "number") {
    return `${parent}[${key}]`;
  }
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Parse JSON text. Integers beyond ±(2^53 - 1) come back as `bigint`, so nothing is rounded.
 *
 * @param {string} text
 * @returns {{value: unknown, spans: Map<string, Span>}}
 * @throws {JsonSyntaxError}
 */
export function parse(text) {
  const spans = new Map();
  let i = 0;

  const fail = (message, at = i) => {
    throw new JsonSyntaxError(message, Math.min(at, text.length));
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) {
      i += 1;
    }
  };
  const describe = () => (i >= text.length ? "the end of the text" : `'${text[i]}'`);

  const string = () => {
    const start = i;
    i += 1;
    let out = "";
    for (;;) {
      if (i >= text.length) {
        fail("unterminated string", start);
      }
      const c = text[i];
      if (c === '"') {
        i += 1;
        return out;
      }
      if (c === "\n" || c < " ") {
        fail("control character in string");
      }
      if (c === "\\") {
        const e = text[i + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          fail("invalid escape in string");
        }
      } else {
        out += c;
        i += 1;
      }
    }
  };

  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (match === null) {
      fail(`unexpected ${describe()}`);
    }
    i += match[0].length;
    if (match[2] === undefined && match[3] === undefined) {
      const big = BigInt(match[0]);
      return big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER) ? big : Number(big);
    }
    const value = Number(match[0]);
    if (!Number.isFinite(value)) {
      fail("number out of range", i - match[0].length);
    }
    return value;
  };

  const value = (path, key) => {
    space();
    const start = i;
    let result;
    const c = text[i];
    if (c === "{") {
      result = object(path);
    } else if (c === "[") {
      result = array(path);
    } else if (c === '"') {
      result = string();
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      result = number();
    } else {
      const word = /^[A-Za-z]+/.exec(text.slice(i))?.[0];
      const literals = { true: true, false: false, null: null };
      if (word !== undefined && word in literals) {
        i += word.length;
        result = literals[word];
      } else if (word !== undefined) {
        fail(`unexpected '${word}'${word === "None" || word === "True" ? " (JSON says null, true, false)" : ""}`);
      } else {
        fail(`unexpected ${describe()}`);
      }
    }
    spans.set(path, { start, end: i, ...key });
    return result;
  };

  const object = (path) => {
    i += 1;
    const out = {};
    space();
    if (text[i] === "}") {
      i += 1;
      return out;
    }
    for (;;) {
      space();
      if (text[i] !== '"') {
        fail(text[i] === "}" ? "trailing comma" : `expected a key in quotes, found ${describe()}`);
      }
      const keyStart = i;
      const key = string();
      const keyEnd = i;
      space();
      if (text[i] !== ":") {
        fail(`expected ':' after the key, found ${describe()}`);
      }
      i += 1;
      const at = childPath(path, key);
      if (Object.hasOwn(out, key)) {
        fail(`duplicate key "${key}"`, keyStart);
      }
      Object.defineProperty(out, key, { value: value(at, { keyStart, keyEnd }), enumerable: true, writable: true, configurable: true });
      space();
      if (text[i] === ",") {
        i += 1;
      } else if (text[i] === "}") {
        i += 1;
        return out;
      } else {
        fail(`expected ',' or '}', found ${describe()}`);
      }
    }
  };

  const array = (path) => {
    i += 1;
    const out = [];
    space();
    if (text[i] === "]") {
      i += 1;
      return out;
    }
    for (;;) {
      space();
      if (text[i] === "]") {
        fail("trailing comma");
      }
      out.push(value(childPath(path, out.length)));
      space();
      if (text[i] === ",") {
        i += 1;
      } else if (text[i] === "]") {
        i += 1;
        return out;
      } else {
        fail(`expected ',' or ']', found ${describe()}`);
      }
    }
  };

  space();
  if (i >= text.length) {
    fail("empty: write a JSON value (null for none)");
  }
  const result = value("$");
  space();
  if (i < text.length) {
    fail(`unexpected ${describe()} after the value`);
  }
  return { value: result, spans };
}

/**
 * The span to show for `path`: its own, or the nearest enclosing one that exists
 * (msgspec says `$[...]` for a dict value, and a path may point below what was typed).
 *
 * @param {Map<string, Span>} spans
 * @param {string} path
 * @returns {Span | undefined}
 */
export function findSpan(spans, path) {
  let at = path;
  for (;;) {
    const span = spans.get(at);
    if (span !== undefined || at === "$" || at === "") {
      return span;
    }
    const cut = Math.max(at.lastIndexOf("."), at.lastIndexOf("["));
    if (cut <= 0) {
      return spans.get("$");
    }
    at = at.slice(0, cut);
  }
}

/**
 * Tokens of any text, valid JSON or not, for highlighting: every character is in one token.
 *
 * @param {string} text
 * @returns {{type: string, text: string}[]}
 */
export function tokenize(text) {
  const pattern =
    /("(?:[^"\\\n]|\\.)*"?)(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],:])|(\s+)|([^\s"{}[\],:]+)/gy;
  const out = [];
  let match;
  while ((match = pattern.exec(text)) !== null && match[0] !== "") {
    if (match[1] !== undefined) {
      out.push({ type: match[2] === undefined ? "string" : "key", text: match[1] });
      if (match[2] !== undefined) {
        out.push({ type: "punct", text: match[2] });
      }
    } else if (match[3] !== undefined) {
      out.push({ type: "number", text: match[3] });
    } else if (match[4] !== undefined) {
      out.push({ type: match[4] === "null" ? "null" : "bool", text: match[4] });
    } else if (match[5] !== undefined) {
      out.push({ type: "punct", text: match[5] });
    } else if (match[6] !== undefined) {
      out.push({ type: "space", text: match[6] });
    } else {
      out.push({ type: "error", text: match[7] });
    }
  }
  return out;
}

/** Base64 of bytes. */
export function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of base64 text (standard or URL-safe alphabet, padding optional); `undefined` when not base64. */
export function fromBase64(text) {
  const clean = text.replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.replace(/=+$/, "").length % 4 === 1) {
    return undefined;
  }
  const padded = clean.replace(/=+$/, "").padEnd(Math.ceil(clean.replace(/=+$/, "").length / 4) * 4, "=");
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    out[i] = binary.charCodeAt(i);
  }
  return out;
}

function isScalar(value) {
  return value === null || typeof value !== "object" || value instanceof Date || value instanceof Uint8Array;
}

/**
 * JSON text of a value that may hold what MessagePack carries: bytes as base64, dates as
 * RFC 3339, big integers as numbers (the parser above reads them back exactly).
 *
 * @param {unknown} value
 * @param {number} [indent]
 */
export function stringify(value, indent = 2) {
  const pad = (depth) => (indent ? "\n" + " ".repeat(indent * depth) : "");
  const sep = indent ? ": " : ":";
  const write = (v, depth) => {
    if (v === null || v === undefined) {
      return "null";
    }
    if (typeof v === "bigint") {
      return v.toString();
    }
    if (typeof v === "number") {
      return Number.isFinite(v) ? String(v) : "null";
    }
    if (typeof v === "string" || typeof v === "boolean") {
      return JSON.stringify(v);
    }
    if (v instanceof Uint8Array) {
      return JSON.stringify(toBase64(v));
    }
    if (v instanceof Date) {
      return JSON.stringify(Number.isNaN(v.getTime()) ? null : v.toISOString());
    }
    if (Array.isArray(v)) {
      if (v.length === 0) {
        return "[]";
      }
      if (indent && v.every(isScalar)) {
        const flat = `[${v.map((item) => write(item, depth)).join(", ")}]`;
        if (flat.length <= 60) {
          return flat;
        }
      }
      return `[${v.map((item) => pad(depth + 1) + write(item, depth + 1)).join(",")}${pad(depth)}]`;
    }
    if (v instanceof Map) {
      return write(Object.fromEntries([...v].map(([k, item]) => [String(k), item])), depth);
    }
    const entries = Object.entries(v);
    if (entries.length === 0) {
      return "{}";
    }
    const body = entries.map(([k, item]) => pad(depth + 1) + JSON.stringify(k) + sep + write(item, depth + 1));
    return `{${body.join(",")}${pad(depth)}}`;
  };
  return write(value, 0);
}
