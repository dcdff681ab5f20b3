// The React example (examples/react) in one Chromium launch:
//
//   node tests/browser/react.mjs all
//
// Environment: SWILL_URL (the example app, serving the built page). The form shows validation
// errors at their fields; the live chart keeps drawing across a restart of the server, which this
// script asks the test for with `@@ restart` (answered on stdin, as in playground.mjs); an upload
// runs to its end with the right SHA-256, and another is cancelled half way.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { ask, hangUp, launch } from "./driver.mjs";


const TIMEOUT = 15_000;
const { SWILL_URL } = process.env;


/** Wait until `predicate(attributes of selector)` holds; returns the attributes. */
async function until(page, selector, predicate, what) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const attributes = await page.locator(selector).evaluate((element) =>
      Object.fromEntries([...element.attributes].map((a) => [a.name, a.value]).concat([["text", element.textContent]])),
    );
    if (predicate(attributes)) return attributes;
    assert.ok(Date.now() < deadline, `${what}: still ${JSON.stringify(attributes)}`);
    await page.waitForTimeout(50);
  }
}

async function form(page) {
  await page.fill("input[name=name]", "");
  await page.fill("input[name=email]", "ada.example.com");
  await page.fill("input[name=age]", "30");
  await page.click("button[type=submit]");
  // The server checks one field at a time: each problem shows at its field, the others stay clean.
  await page.locator("[data-testid=error-name]").waitFor({ timeout: TIMEOUT });
  assert.match(await page.locator("[data-testid=error-name]").innerText(), /length/);
  assert.equal(await page.locator("[data-testid=error-email]").count(), 0);
  assert.equal(await page.locator("input[name=name]").getAttribute("aria-invalid"), "true");

  await page.fill("input[name=name]", "Ada");
  await page.click("button[type=submit]");
  await page.locator("[data-testid=error-email]").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator("[data-testid=error-email]").innerText(), "not an email address");
  assert.equal(await page.locator("[data-testid=error-name]").count(), 0);

  await page.fill("input[name=email]", "ada@example.com");
  await page.fill("input[name=age]", "9");
  await page.click("button[type=submit]");
  await page.locator("[data-testid=error-age]").waitFor({ timeout: TIMEOUT });

  await page.fill("input[name=age]", "36");
  await page.click("button[type=submit]");
  await page.locator("[data-testid=signup-ok]").waitFor({ timeout: TIMEOUT });
  assert.match(await page.locator("[data-testid=signup-ok]").innerText(), /Welcome, Ada/);

  await page.click("button[type=submit]"); // the same email again: a server error with a path
  await page.locator("[data-testid=error-email]", { hasText: "already registered" }).waitFor({ timeout: TIMEOUT });
}

async function chartAcrossARestart(page) {
  const before = await until(page, "[data-testid=chart]", (a) => Number(a["data-points"]) >= 5, "the chart fills");
  await ask("restart");
  // The status line saw the connection go, and the chart kept drawing on the new server.
  await until(page, "[data-testid=status]", (a) => a["data-state"] === "connected", "reconnected");
  // The new process's topic starts its ids again: the chart says so (restarts), and keeps drawing.
  const restarted = await until(page, "[data-testid=chart]", (a) => Number(a["data-restarts"]) >= 1, "a restart is seen");
  const after = await until(
    page,
    "[data-testid=chart]",
    (a) => Number(a["data-id"]) > Number(restarted["data-id"]) + 3,
    "the chart goes on after the restart",
  );
  assert.notEqual(after["data-id"], before["data-id"]);
  const points = Number(after["data-points"]);
  assert.ok(points > 0 && points <= 60, `keeps the last 60 values: ${points}`);
}

async function upload(page) {
  const bytes = Buffer.alloc(20 * 64 * 1024 + 123);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  await page.setInputFiles("[data-testid=file]", { name: "data.bin", mimeType: "application/octet-stream", buffer: bytes });
  const done = await until(page, "[data-testid=upload]", (a) => a["data-status"] !== "open" && a["data-status"] !== "ending" && a["data-status"] !== "idle", "the upload ends");
  assert.equal(done["data-status"], "success", done.text);
  assert.equal(done.text, `stored ${bytes.length} bytes, sha256 ${sha256}`);

  // A second file, cancelled once part of it is in.
  await page.setInputFiles("[data-testid=file]", { name: "big.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(200 * 64 * 1024) });
  await until(page, "[data-testid=upload]", (a) => a["data-status"] === "open" && Number(a["data-sent"]) > 0, "progress");
  await page.click("[data-testid=cancel]");
  const cancelled = await until(page, "[data-testid=upload]", (a) => a["data-status"] === "error", "cancelled");
  assert.equal(cancelled.text, "CANCELLED: cancelled by the user");
  assert.ok(Number(cancelled["data-sent"]) < 200 * 64 * 1024, "stopped before the end");
}

const scenario = process.argv[2];
assert.equal(scenario, "all", "one scenario: all");
const scratch = mkdtempSync(path.join(tmpdir(), "swill-react-"));
const browser = await launch(path.join(scratch, "profile"));
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(SWILL_URL);
  await until(page, "[data-testid=status]", (a) => a["data-state"] === "connected", "the page connects");
  await form(page);
  process.stdout.write("form ok\n");
  await upload(page);
  process.stdout.write("upload ok\n");
  await chartAcrossARestart(page);
  process.stdout.write("chart ok\n");
  assert.deepEqual(errors, []);
  process.stdout.write("ok\n");
} finally {
  await browser.close();
  hangUp();
  rmSync(scratch, { recursive: true, force: true });
}
