// Unit tests of the playground's modules that need no page (json.js, schema.js, check.js), run
// with `node --test` by tests/browser/test_modules.py, plus checks against live servers: every
// example the page makes is accepted by the server, and the page's problems read like the
// server's.
//
// Environment: PLAYGROUND_MODULES (a folder with the page's modules, as ES modules),
// CATALOG_URL and DEMO_URL (WebSocket URLs of tests/introspection/catalog.py and
// examples/playground.py, served live), CLIENT_MODULES (node_modules with `ws`).

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, test } from "node:test";

const modules = process.env.PLAYGROUND_MODULES;
const json = await import(path.join(modules, "json.js"));
const schema = { ...(await import(path.join(modules, "schema.js"))), ...(await import(path.join(modules, "check.js"))) };
const { Client } = await import(path.join(modules, "client.js"));
const WebSocket = createRequire(path.join(process.env.CLIENT_MODULES, "package.json"))("ws");

describe("json.parse", () => {
  test("remembers where each value is, keys included", () => {
    const text = '{\n  "a": [1, {"b": "x"}],\n  "c": null\n}';
    const { value, spans } = json.parse(text);
    assert.deepEqual(value, { a: [1, { b: "x" }], c: null });
    const at = (p) => text.slice(spans.get(p).start, spans.get(p).end);
    assert.equal(at("$.a[1].b"), '"x"');
    assert.equal(at("$.a[1]"), '{"b": "x"}');
    assert.equal(at("$.c"), "null");
    const span = spans.get("$.a");
    assert.equal(text.slice(span.keyStart, span.keyEnd), '"a"');
    assert.equal(at("$"), text);
  });

  test("keeps integers beyond 2^53 exact, as bigint", () => {
    assert.deepEqual(json.parse("[9007199254740991, 9007199254740993, -9007199254740993, 1.5]").value, [
      9007199254740991,
      9007199254740993n,
      -9007199254740993n,
      1.5,
    ]);
  });

  test("says what is wrong and where", () => {
    const cases = [
      ['{"a": 1,}', "trailing comma", 8],
      ['{"a" 1}', "expected ':' after the key, found '1'", 5],
      ['"abc', "unterminated string", 0],
      ["[1, 2", "expected ',' or ']', found the end of the text", 5],
      ["None", "unexpected 'None' (JSON says null, true, false)", 0],
      ["", "empty: write a JSON value (null for none)", 0],
      ['{"a": 1, "a": 2}', 'duplicate key "a"', 9],
      ["[1] 2", "unexpected '2' after the value", 4],
      ["1e999", "number out of range", 0],
    ];
    for (const [text, message, offset] of cases) {
      assert.throws(() => json.parse(text), (error) => error instanceof json.JsonSyntaxError && error.message === message && error.offset === offset, text);
    }
  });

  test("reads keys that are not names, and escapes", () => {
    const { value, spans } = json.parse('{"odd key": "\\u00e9\\n", "__proto__": 1}');
    assert.equal(value["odd key"], "é\n");
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(Object.keys(value).join(), "odd key,__proto__");
    assert.ok(spans.has('$["odd key"]'));
  });
});

describe("json.findSpan", () => {
  test("falls back to the nearest enclosing value", () => {
    const { spans } = json.parse('{"m": {"k": [1]}}');
    assert.equal(json.findSpan(spans, "$.m[...]"), spans.get("$.m"));
    assert.equal(json.findSpan(spans, "$.m.k[3].x"), spans.get("$.m.k"));
    assert.equal(json.findSpan(spans, "$"), spans.get("$"));
    assert.equal(json.findSpan(spans, "$.nope"), spans.get("$"));
  });
});

describe("json.stringify and base64", () => {
  test("writes bytes as base64, dates as RFC 3339, big integers exactly", () => {
    const value = { b: new Uint8Array([104, 105]), d: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), n: 2n ** 60n, l: [1, 2] };
    const text = json.stringify(value);
    assert.equal(text, '{\n  "b": "aGk=",\n  "d": "2025-01-02T03:04:05.000Z",\n  "n": 1152921504606846976,\n  "l": [1, 2]\n}');
    assert.deepEqual(json.parse(text).value, { b: "aGk=", d: "2025-01-02T03:04:05.000Z", n: 2n ** 60n, l: [1, 2] });
  });

  test("base64 both ways, URL-safe and unpadded too", () => {
    const bytes = new Uint8Array(Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(json.fromBase64(json.toBase64(bytes)), bytes);
    assert.deepEqual(json.fromBase64("-_8"), new Uint8Array([251, 255]));
    assert.deepEqual(json.fromBase64("aGk"), new Uint8Array([104, 105]));
    for (const bad of ["a", "ab$c", "a=b"]) {
      assert.equal(json.fromBase64(bad), undefined, bad);
    }
  });

  test("tokenize keeps every character, whatever the text", () => {
    for (const text of ['{"a": [1, -2.5e3, true, null]}', '{"a": "unterminated', "}{ :: ,, ][ garbage 12abc", "\n\t \"\\\"\" : x"]) {
      const tokens = json.tokenize(text);
      assert.equal(tokens.map((t) => t.text).join(""), text);
    }
    assert.deepEqual(json.tokenize('{"k": "v"}').map((t) => t.type), ["punct", "key", "punct", "space", "string", "punct"]);
  });
});

describe("schema", () => {
  const schemas = new schema.Schemas({
    Pet: { title: "Pet", type: "object", properties: { name: { type: "string", minLength: 1 }, age: { type: "integer", minimum: 0 } }, required: ["name"], additionalProperties: false },
    Point: { title: "Point", type: "array", prefixItems: [{ type: "number", "x-name": "x" }, { type: "number", default: 0, "x-name": "y" }], minItems: 1 },
    Cat: { title: "Cat", type: "object", properties: { type: { enum: ["Cat"] }, lives: { type: "integer", default: 9 } }, required: ["type"] },
    Dog: { title: "Dog", type: "object", properties: { type: { enum: ["Dog"] }, name: { type: "string" } }, required: ["type", "name"] },
  });
  const tagged = { anyOf: [{ $ref: "#/schemas/Cat" }, { $ref: "#/schemas/Dog" }], discriminator: { propertyName: "type", mapping: { Cat: "#/schemas/Cat", Dog: "#/schemas/Dog" } } };
  const problems = (s, value) => schema.validate(schemas, s, value).map((p) => `${p.path}: ${p.message}`);

  test("reports every problem by path, in msgspec's words", () => {
    assert.deepEqual(problems({ $ref: "#/schemas/Pet" }, { age: -1, color: "red" }), [
      "$: Object missing required field `name`",
      "$.age: Expected `int` >= 0",
      "$.color: Object contains unknown field `color`",
    ]);
    assert.deepEqual(problems({ type: "array", items: { $ref: "#/schemas/Pet" }, maxItems: 1 }, [{ name: "" }, { name: 3 }]), [
      "$: Expected `array` of length <= 1",
      "$[0].name: Expected `str` of length >= 1",
      "$[1].name: Expected `str`, got `int`",
    ]);
    assert.deepEqual(problems({ type: "integer", exclusiveMinimum: 0, multipleOf: 5 }, 7), ["$: Expected `int` that's a multiple of 5"]);
    assert.deepEqual(problems({ type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 10 }, 10), ["$: Expected `int` <= 9"]);
    assert.deepEqual(problems({ type: "number", exclusiveMinimum: 5 }, 1), ["$: Expected `float` > 5.0"]);
    assert.deepEqual(problems({ type: "number", maximum: 2.5 }, 3), ["$: Expected `float` <= 2.5"]);
    assert.deepEqual(problems({ type: "integer" }, 1.5), ["$: Expected `int`, got `float`"]);
    assert.deepEqual(problems({ type: "number" }, 2n ** 60n), []);
    assert.deepEqual(problems({ type: "string", pattern: "^[a-z]+$" }, "A"), ["$: Expected `str` matching regex '^[a-z]+$'"]);
    assert.deepEqual(problems({ enum: ["a", "b"] }, "c"), ["$: Invalid enum value 'c'"]);
    assert.deepEqual(problems({ anyOf: [{ type: "integer" }, { type: "null" }] }, "x"), ["$: Expected `int | null`, got `str`"]);
    assert.deepEqual(problems({ anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }] }, 0), ["$: Expected `int` >= 1"]);
    assert.deepEqual(problems({ $ref: "#/schemas/Point" }, []), ["$: Expected `array` of at least length 1, got 0"]);
    assert.deepEqual(problems({ type: "array", prefixItems: [{ type: "integer" }], items: false, minItems: 1, maxItems: 1 }, [1, 2]), ["$: Expected `array` of length 1, got 2"]);
    assert.deepEqual(problems({ type: "object", additionalProperties: { type: "integer" }, propertyNames: { minLength: 2 } }, { a: 1, bb: "x" }), [
      "$.a: Expected `str` of length >= 2 (in a key)",
      "$.bb: Expected `int`, got `str`",
    ]);
  });

  test("checks what MessagePack carries: bytes, timestamps", () => {
    const bin = { type: "string", contentEncoding: "base64", "x-msgpack": "bin", maxLength: 2 };
    assert.deepEqual(problems(bin, "aGk="), []);
    assert.deepEqual(problems(bin, "aGVsbG8="), ["$: Expected `bytes` of length <= 2"]);
    assert.deepEqual(problems(bin, "not base64!"), ["$: Expected `bytes` as base64 text"]);
    const ts = { type: "string", format: "date-time", "x-msgpack": "timestamp" };
    assert.deepEqual(problems(ts, "2025-01-02T03:04:05Z"), []);
    assert.deepEqual(problems(ts, "2025-01-02T03:04:05"), ["$: Expected `datetime` with a timezone component"]);
    assert.deepEqual(problems(ts, "tomorrow"), ["$: Invalid RFC3339 encoded datetime"]);
  });

  test("tagged unions are checked against the member their tag names", () => {
    assert.deepEqual(problems(tagged, { type: "Dog" }), ["$: Object missing required field `name`"]);
    assert.deepEqual(problems(tagged, { type: "Cow" }), ["$.type: Invalid value 'Cow'"]);
    assert.deepEqual(problems(tagged, { lives: 1 }), ["$: Object missing required field `type`"]);
    assert.deepEqual(problems(tagged, { type: "Cat" }), []);
  });

  test("turns editor JSON into MessagePack values", () => {
    const s = {
      type: "object",
      properties: {
        blob: { anyOf: [{ type: "string", "x-msgpack": "bin" }, { type: "null" }] },
        when: { type: "array", items: { type: "string", format: "date-time", "x-msgpack": "timestamp" } },
        text: { type: "string" },
      },
    };
    const wire = schema.toWire(schemas, s, { blob: "aGk=", when: ["2025-01-02T03:04:05Z"], text: "aGk=" });
    assert.deepEqual(wire.blob, new Uint8Array([104, 105]));
    assert.ok(wire.when[0] instanceof Date);
    assert.equal(wire.when[0].toISOString(), "2025-01-02T03:04:05.000Z");
    assert.equal(wire.text, "aGk=");
    assert.equal(schema.toWire(schemas, s, { blob: null }).blob, null);
  });

  test("labels and constraints read like Python", () => {
    const label = (s) => schema.typeLabel(schemas, s);
    assert.equal(label({ type: "array", items: { anyOf: [{ type: "integer" }, { type: "null" }] } }), "(int | null)[]");
    assert.equal(label({ type: "object", additionalProperties: { type: "string" } }), "map<str, str>");
    assert.equal(label({ type: "array", prefixItems: [{ type: "integer" }, { type: "string" }], items: false }), "[int, str]");
    assert.equal(label({ enum: ["a", "b"] }), '"a" | "b"');
    assert.equal(label({ $ref: "#/schemas/Pet" }), "Pet");
    assert.equal(label({ type: "string", "x-msgpack": "bin" }), "bytes");
    assert.equal(label(tagged), "Cat | Dog");
    assert.deepEqual(schema.constraints(schemas, { type: "string", minLength: 1, maxLength: 80 }), ["length 1–80"]);
    assert.deepEqual(schema.constraints(schemas, { type: "integer", minimum: 0, exclusiveMaximum: 10 }), ["≥ 0", "< 10"]);
    assert.deepEqual(schema.fields(schemas, { $ref: "#/schemas/Point" }).map((f) => `${f.name}${f.required ? "" : "?"}`), ["x", "y?"]);
  });

  test("an int held to what a JavaScript number holds (safe_integers) is checked and labelled so", () => {
    const safe = { type: "integer", minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    assert.deepEqual(schema.constraints(schemas, safe), ["±(2^53 − 1)"]);
    assert.deepEqual(problems(safe, 2n ** 60n), ["$: Expected `int` <= 9007199254740991"]);
    assert.deepEqual(problems(safe, -(2n ** 60n)), ["$: Expected `int` >= -9007199254740991"]);
    assert.deepEqual(problems(safe, 2 ** 52), []);
  });

  test("examples fit their schemas", () => {
    for (const s of [{ $ref: "#/schemas/Pet" }, { $ref: "#/schemas/Point" }, tagged, { type: "integer", exclusiveMinimum: 0, multipleOf: 5 }, { type: "string", pattern: "^[a-z][a-z0-9-]*$" }]) {
      assert.deepEqual(problems(s, schema.example(schemas, s)), [], JSON.stringify(s));
    }
  });
});

// Live: the page's examples and problems against the server's own decoding.

async function connect(url) {
  const client = new Client(url, { WebSocket, retries: 0 });
  const doc = await client.call("swill.introspect", null);
  return { client, doc, schemas: new schema.Schemas(doc.schemas) };
}

async function send(client, rpc, value) {
  const call = client.open(rpc.name, value, { timeoutMs: 5000 });
  if (rpc.request.stream) {
    await call.end();
  }
  try {
    await call.result();
    return undefined;
  } catch (error) {
    return error;
  }
}

for (const [name, variable] of [["catalog", "CATALOG_URL"], ["demo", "DEMO_URL"]]) {
  describe(`the ${name} app, live`, () => {
    let live;
    before(async () => {
      live = await connect(process.env[variable]);
    });
    after(() => live.client.close());

    test("every example is valid by the schema and accepted by the server", async () => {
      let checked = 0;
      for (const rpc of live.doc.rpcs.filter((r) => !r.builtin)) {
        const value = schema.example(live.schemas, rpc.request.schema);
        const wire = schema.toWire(live.schemas, rpc.request.schema, json.parse(json.stringify(value)).value);
        const found = schema.validate(live.schemas, rpc.request.schema, json.parse(json.stringify(value)).value);
        if (found.some((p) => p.message.includes("the playground can't send"))) {
          continue; // a map with integer keys, which JSON can't write
        }
        assert.deepEqual(found, [], `${rpc.name}: ${json.stringify(value)}`);
        if (rpc.name === "sensors.watch") {
          continue; // streams forever
        }
        const error = await send(live.client, rpc, wire);
        assert.ok(error === undefined || error.code !== "INVALID_ARGUMENT", `${rpc.name} refused ${json.stringify(value)}: ${error?.message}`);
        checked += 1;
      }
      assert.ok(checked >= 8, `only ${checked} rpcs checked`);
    });
  });
}

describe("problems read like the server's", () => {
  let live;
  before(async () => {
    live = await connect(process.env.CATALOG_URL);
  });
  after(() => live.client.close());

  const cases = [
    ["add", '["x", 1]'],
    ["add", "[1]"],
    ["count", "101"],
    ["count", "-1"],
    ["order", '{"qty": 0, "item": "a"}'],
    ["order", '{"qty": 1, "item": ""}'],
    ["order", '{"qty": 1, "item": "a", "color": "blue"}'],
    ["order", '{"item": "a"}'],
    ["blob", '{"data": "aGk=", "created": "2025-01-01T00:00:00Z", "big": 1, "small": 101}'],
    ["window", '{"start": "later"}'],
    ["tags", '{"names": [1]}'],
    ["maybe", '"x"'],
    ["pets.adopt", '{"type": "Cat", "lives": 10}'],
    ["pets.adopt", '{"type": "Cow"}'],
    ["colors", '"blue"'],
    ["point", "[]"],
  ];
  for (const [name, text] of cases) {
    test(`${name} ${text}`, async () => {
      const rpc = live.doc.rpcs.find((r) => r.name === name);
      const value = json.parse(text).value;
      const [first] = schema.validate(live.schemas, rpc.request.schema, value);
      assert.ok(first, "the page finds a problem");
      const error = await send(live.client, rpc, schema.toWire(live.schemas, rpc.request.schema, value));
      assert.equal(error?.code, "INVALID_ARGUMENT");
      assert.deepEqual(first, error.data[0]);
    });
  }
});
