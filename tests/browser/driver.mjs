// What every Chromium driver in this folder shares: playwright-core from the client's
// node_modules, Debian's /usr/bin/chromium with the flags this machine needs (no downloaded
// browser, no background network), and the `@@ request` / `done` exchange with the pytest that
// runs the driver.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const require = createRequire(path.join(process.env.PLAYWRIGHT_FROM ?? path.join(REPO, "clients", "typescript"), "package.json"));
const { chromium } = require("playwright-core");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A headless Chromium with its own profile folder `profile`; `options` go to playwright. */
export function launch(profile, options = {}) {
  return chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true, ...options });
}

let stdin;
const lines = [];
const waiters = [];

/** Ask the test for something (`@@ request`) and wait for its answer line, which must be "done". */
export async function ask(request) {
  if (stdin === undefined) {
    stdin = createInterface({ input: process.stdin });
    stdin.on("line", (line) => (waiters.length > 0 ? waiters.shift()(line) : lines.push(line)));
  }
  process.stdout.write(`@@ ${request}\n`);
  const answer = lines.length > 0 ? lines.shift() : await new Promise((resolve) => waiters.push(resolve));
  assert.equal(answer, "done", `the test could not ${request}: ${answer}`);
}

/** Stop reading stdin, so that the driver's process can end. */
export function hangUp() {
  stdin?.close();
}
