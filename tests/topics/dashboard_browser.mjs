// Drives examples/dashboard in Chromium: node dashboard_browser.mjs <page URL>.
// Exits 0 when the page shows live telemetry, drives the machine, shows its alerts, and gets
// the topics' history back after a reload; otherwise prints why and exits 1.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../clients/typescript/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const url = process.argv[2];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--headless=new"] });
const problems = [];
const data = (page, key) => page.evaluate((k) => Number(document.body.dataset[k] ?? 0), key);

try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.setDefaultTimeout(20_000);
  await page.goto(url);
  await page.waitForSelector('#status[data-state="live"]');

  // Telemetry: the history fills the chart, then live samples keep coming.
  await page.waitForFunction(() => Number(document.body.dataset.samples) >= 5);
  const seen = await data(page, "telemetryId");
  await page.waitForFunction((id) => Number(document.body.dataset.telemetryId) > id, seen);
  const points = await page.getAttribute("#line", "points");
  if (!points || points.split(" ").length < 5) problems.push(`chart has no line: ${points}`);

  // Drive the machine: an rpc call; the alerts topic reports it heating up.
  await page.click('button[data-rpm="6000"]');
  await page.waitForFunction(() => document.getElementById("target").textContent === "6,000");
  await page.waitForSelector("#alerts li.warning");
  await page.waitForSelector("#alerts li.critical");
  const alerts = await page.locator("#alerts li").count();

  // A new page gets the history of both topics at once: the chart and the same alerts.
  await page.reload();
  await page.waitForSelector('#status[data-state="live"]');
  await page.waitForFunction((n) => document.querySelectorAll("#alerts li").length >= n, alerts);
  await page.waitForFunction(() => Number(document.body.dataset.samples) >= 20);
  const critical = await page.locator("#alerts li.critical").count();
  if (critical < 1) problems.push("the alerts' history lost the critical alert");
  if (await page.locator("#problem").isVisible()) problems.push(`problem: ${await page.textContent("#problem")}`);
} catch (error) {
  problems.push(String(error?.stack ?? error));
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("dashboard ok");
