// Minified + gzipped size of what an app ships, bundled by esbuild with tree shaking:
//
//   npm run build && npm run size
//
// Rows: the core client as an app uses it (Client, SwillError, with the MessagePack codec), the
// whole package index, the TanStack Query adapter on its own (the core client and query-core
// left out, as an app already has them) and with the core client, and the test server. Each row
// also says how much of it is @msgpack/msgpack. `test/package/size.test.ts` checks the budget.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { build } from "esbuild";

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = path.join(PACKAGE, "dist");

/** The budget of the core client with its codec, bytes of min+gzip. */
export const CORE_BUDGET = 15 * 1024;

const ENTRIES = {
  core: {
    what: "core client: Client + SwillError, as an app uses them",
    code: `import { Client, SwillError } from "${DIST}/index.js";
export async function main(url) {
  const client = new Client(url);
  try { return [await client.call("add", [1, 2]), client.stream("count", 3), client.open("total")]; }
  catch (error) { if (error instanceof SwillError) return error.code; throw error; }
}`,
  },
  "core-codec": {
    what: "core client without its codec (@msgpack/msgpack external)",
    code: `export { Client, SwillError } from "${DIST}/index.js";`,
    external: ["@msgpack/msgpack"],
  },
  codec: {
    what: "@msgpack/msgpack as the client uses it (Encoder, Decoder)",
    code: `export { Encoder, Decoder } from "@msgpack/msgpack";`,
  },
  index: { what: "the whole package index", code: `export * from "${DIST}/index.js";` },
  adapter: {
    what: "TanStack Query adapter alone (core client and query-core external)",
    code: `export * from "${DIST}/query.js";`,
    external: [`${DIST}/client.js`, `${DIST}/errors.js`, "@tanstack/query-core"],
  },
  "adapter+core": {
    what: "adapter with the core client (query-core external)",
    code: `export * from "${DIST}/query.js"; export { Client } from "${DIST}/index.js";`,
    external: ["@tanstack/query-core"],
  },
  testing: { what: "test server (with the core client)", code: `export * from "${DIST}/testing.js";` },
};

async function measure(name, entry, scratch) {
  const file = path.join(scratch, `${name.replace("+", "-")}.mjs`);
  writeFileSync(file, entry.code);
  const result = await build({
    entryPoints: [file],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    treeShaking: true,
    write: false,
    metafile: true,
    absWorkingDir: PACKAGE,
    nodePaths: [path.join(PACKAGE, "node_modules")],
    external: entry.external ?? [],
    plugins: [externalPaths(entry.external ?? [])],
  });
  const code = result.outputFiles[0].contents;
  const output = Object.values(result.metafile.outputs)[0];
  const msgpack = Object.entries(output.inputs)
    .filter(([input]) => input.includes("@msgpack"))
    .reduce((sum, [, info]) => sum + info.bytesInOutput, 0);
  return { name, what: entry.what, min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength, msgpack };
}

// esbuild's `external` takes package names; the adapter row also leaves out modules by path.
function externalPaths(paths) {
  const set = new Set(paths.filter((p) => p.startsWith("/")));
  return {
    name: "external-paths",
    setup(builder) {
      builder.onResolve({ filter: /^\.\.?\// }, (args) => {
        const resolved = path.resolve(args.resolveDir, args.path);
        return set.has(resolved) ? { path: resolved, external: true } : undefined;
      });
    },
  };
}

/** Every row, measured now from dist/. */
export async function sizes() {
  const scratch = mkdtempSync(path.join(tmpdir(), "swill-size-"));
  try {
    const rows = [];
    for (const [name, entry] of Object.entries(ENTRIES)) {
      rows.push(await measure(name, entry, scratch));
    }
    return rows;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const rows = await sizes();
  console.log("| bundle | min | min+gzip | of which @msgpack/msgpack (min) |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows) {
    console.log(`| ${row.what} | ${kb(row.min)} | ${kb(row.gzip)} | ${kb(row.msgpack)} |`);
  }
  const core = rows.find((row) => row.name === "core");
  console.log(`\ncore client: ${kb(core.gzip)} min+gzip, budget ${kb(CORE_BUDGET)}`);
  process.exitCode = core.gzip <= CORE_BUDGET ? 0 : 1;
}
