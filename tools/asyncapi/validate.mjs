// Validates AsyncAPI documents with the official parser and prints, as one JSON line per file,
// the diagnostics it reported: `{"file", "diagnostics": [{"severity", "code", "message", "path"}]}`.
// Severities are Spectral's: 0 error, 1 warning, 2 information, 3 hint.
//
//   node tools/asyncapi/validate.mjs FILE...

import { readFile } from "node:fs/promises";

import { Parser } from "@asyncapi/parser";

const parser = new Parser();
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"));
  const found = diagnostics.map((d) => ({ severity: d.severity, code: String(d.code), message: d.message, path: d.path.join(".") }));
  if (document === undefined && !found.some((d) => d.severity === 0)) {
    found.push({ severity: 0, code: "no-document", message: "the parser returned no document", path: "" });
  }
  console.log(JSON.stringify({ file, diagnostics: found }));
}
