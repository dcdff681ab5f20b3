// The size budget (scripts/size.mjs): the core client with its MessagePack codec, min+gzip, as
// esbuild bundles it for an app. Measured from dist/ (`npm run build` comes first).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { expect, it } from "vitest";

// @ts-expect-error: a plain ES module without types
import { CORE_BUDGET, sizes } from "../../scripts/size.mjs";

interface Row {
  readonly name: string;
  readonly min: number;
  readonly gzip: number;
  readonly msgpack: number;
}

it("keeps the core client within its budget, and the adapter small", async () => {
  if (!existsSync(fileURLToPath(new URL("../../dist/query.js", import.meta.url)))) {
    throw new Error("measures the built package: run `npm run build` first");
  }
  const rows = (await sizes()) as Row[];
  const size = (name: string): Row => rows.find((row) => row.name === name) as Row;
  expect(size("core").gzip).toBeLessThanOrEqual(CORE_BUDGET as number);
  // The adapter adds little to an app that has the client and TanStack Query already.
  expect(size("adapter").gzip).toBeLessThan(4 * 1024);
  expect(size("adapter").msgpack).toBe(0);
}, 60_000);
