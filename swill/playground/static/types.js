// Request and response types, drawn from their schemas: the type on one line, then each named
// type it uses (a Struct's fields with their types, constraints, defaults and docs; an enum's
// values), each once.

import { constraints, fields, referencedNames, typeLabel } from "./schema.js";
import { h, richText } from "./dom.js";

/**
 * @param {import("./schema.js").Schemas} schemas
 * @param {object} schema
 * @param {boolean} stream whether the messages come as a stream
 */
export function renderType(schemas, schema, stream) {
  const shown = new Set();
  const blocks = [];
  const queue = [...referencedNames(schemas, schema)];
  const rootFields = fields(schemas, schema);
  const named = schemas.refName(schema) !== undefined;
  const root = named && !stream ? null : h(
    "div",
    { class: "type-root" },
    stream ? h("span", { class: "type-stream", title: "a stream of messages of this type" }, "stream of") : null,
    h("code", { class: "type-label" }, typeLabel(schemas, schema)),
    named ? null : chips(schemas, schema),
  );
  if (rootFields !== undefined && !named) {
    blocks.push(fieldTable(schemas, rootFields, queue));
  }
  while (queue.length > 0) {
    const name = queue.shift();
    if (shown.has(name)) {
      continue;
    }
    shown.add(name);
    blocks.push(namedBlock(schemas, name, queue, root === null && blocks.length === 0));
  }
  return h("div", { class: "type" }, root, blocks);
}

function namedBlock(schemas, name, queue, first) {
  const schema = schemas.components[name] ?? {};
  const list = fields(schemas, schema);
  const head = h(
    "div",
    { class: "type-block-head" },
    h("code", { class: "type-name", id: `type-${cssId(name)}` }, name),
    list === undefined ? h("code", { class: "type-label" }, typeLabel(schemas, { ...schema, title: undefined })) : null,
    list === undefined ? chips(schemas, schema) : schema.additionalProperties === false ? h("span", { class: "chip" }, "no other fields") : null,
  );
  const body = [];
  if (schema.description) {
    body.push(h("p", { class: "type-doc" }, richText(schema.description)));
  }
  if (list !== undefined) {
    body.push(fieldTable(schemas, list, queue));
  } else {
    queue.push(...referencedNames(schemas, schema));
  }
  return h("div", { class: first ? "type-block type-block-first" : "type-block" }, head, body);
}

function fieldTable(schemas, list, queue) {
  const rows = list.map(({ name, schema, required }) => {
    queue.push(...referencedNames(schemas, schema));
    const doc = schema.description;
    return h(
      "tr",
      {},
      h("th", { scope: "row", class: "field-name" }, h("code", {}, name), required ? null : h("span", { class: "optional", title: "optional" }, "?")),
      h(
        "td",
        {},
        h("code", { class: "type-label" }, typeLabel(schemas, schema)),
        chips(schemas, schema, { hideEnum: true }),
        schema.default === undefined ? null : h("span", { class: "chip chip-default" }, "default ", h("code", {}, JSON.stringify(schema.default))),
        doc ? h("div", { class: "field-doc" }, richText(doc)) : null,
      ),
    );
  });
  return h("table", { class: "fields" }, h("tbody", {}, rows));
}

function chips(schemas, schema, { hideEnum = false } = {}) {
  // A union's members carry the constraints (`int >= 1 | null`): show each member's.
  const resolved = schemas.resolve(schema);
  const sources = resolved.anyOf !== undefined ? resolved.anyOf : [schema];
  const phrases = [];
  for (const source of sources) {
    if (hideEnum && schemas.refName(source) !== undefined) {
      continue; // a named type has its own block
    }
    for (const phrase of constraints(schemas, source)) {
      if (!phrases.includes(phrase)) {
        phrases.push(phrase);
      }
    }
  }
  return phrases.map((phrase) => h("span", { class: "chip" }, phrase));
}

function cssId(name) {
  return name.replace(/[^A-Za-z0-9_-]/g, "_");
}
