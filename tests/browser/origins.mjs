// The Origin rules as a browser meets them (PROTOCOL.md section 6), in one Chromium launch:
//
//   node tests/browser/origins.mjs
//
// Environment: SWILL_URL (an app with a list of allowed origins), PROXIED_URL (the same kind of
// app behind a proxy that drops the Host header, so its own playground is refused), FOREIGN_URL (a
// page on another port that calls the app with the TypeScript client). The test answers `@@ ...`
// requests on stdin, as in playground.mjs.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { ask, hangUp, launch } from "./driver.mjs";


const TIMEOUT = 10_000;
const { SWILL_URL, PROXIED_URL, FOREIGN_URL } = process.env;


async function text(page, selector) {
  return (await page.locator(selector).innerText()).replace(/\s+/g, " ").trim();
}

/** The app's own playground connects although a list of origins is set: it is same-origin. */
async function playgroundUnderAList(page) {
  await page.goto(`${SWILL_URL}/swill#add`);
  await page.locator("#connection[data-state='open']").waitFor();
  await page.locator(".rpc-title", { hasText: /^add$/ }).waitFor();
}

/** Behind a proxy that drops Host the playground is refused: it says why instead of "Loading". */
async function playgroundRefused(page) {
  const origin = new URL(PROXIED_URL).origin;
  await page.goto(`${PROXIED_URL}/swill`);
  await page.locator(".placeholder-title", { hasText: "Can't load the server's RPCs" }).waitFor();
  const why = await text(page, ".placeholder-text");
  assert.match(why, /^PERMISSION_DENIED: origin /);
  assert.ok(why.includes(`origin ${origin} is not allowed`), why);
  assert.ok(why.includes("allowed_origins"), why);
  assert.match(await text(page, "#connection-text"), /not allowed/);
  assert.equal(await page.locator("#connection").getAttribute("data-state"), "closed");
}

/** A page on another port is refused with its reason, then allowed once the app lists it. */
async function foreignPage(page) {
  const origin = new URL(FOREIGN_URL).origin;
  await page.goto(`${FOREIGN_URL}/`);
  const result = page.locator("#result[data-done]");
  await result.waitFor();
  const refused = await result.innerText();
  assert.ok(refused.startsWith(`PERMISSION_DENIED: origin ${origin} is not allowed`), refused);
  assert.ok(refused.includes("allowed_origins"), refused);
  await ask(`allow ${origin}`);
  await page.reload();
  await result.waitFor();
  assert.equal(await result.innerText(), "3");
  // Development mode instead of the list (`swill run --dev`): a loopback page on any port.
  await ask("serve for development");
  await page.reload();
  await result.waitFor();
  assert.equal(await result.innerText(), "3");
}

async function main() {
  assert.ok(SWILL_URL && PROXIED_URL && FOREIGN_URL, "set SWILL_URL, PROXIED_URL and FOREIGN_URL");
  const profile = mkdtempSync(path.join(tmpdir(), "swill-chromium-"));
  const context = await launch(profile);
  context.setDefaultTimeout(TIMEOUT);
  const errors = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => errors.push(error.message));
    await playgroundUnderAList(page);
    await playgroundRefused(page);
    await foreignPage(page);
    assert.deepEqual(errors, [], "script errors in the page");
  } finally {
    await context.close();
    hangUp();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
