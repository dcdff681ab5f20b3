// The built client, bundled, in headless Chromium: a page served by a Starlette site that mounts
// the Swill app (same origin) runs every call kind with the browser's own WebSocket.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { WebSocket } from "ws";

import { Client } from "../../src/index.js";
import { type TestServer, startRedis, startServer } from "../helpers/server.js";

const entry = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "swill-browser-"));

let server: TestServer;
let bundle: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!existsSync(entry)) {
    throw new Error("the browser test loads the built client: run `npm run build` first");
  }
  bundle = join(scratch, "client.js");
  await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "browser", outfile: bundle });
  server = await startServer({ site: bundle });
  // A fresh profile: Playwright takes it as launchPersistentContext's --user-data-dir.
  browser = await chromium.launchPersistentContext(join(scratch, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(server.url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, {
    timeout: 10_000,
  });
  expect(errors).toEqual([]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

it("runs every call kind over the browser's WebSocket", async () => {
  const results = await page.evaluate(async () => {
    type Swill = typeof import("../../src/index.js");
    const { Client, SwillError } = (window as unknown as { swill: Swill }).swill;
    const client = new Client("/rpc/ws"); // same origin, global WebSocket
    const opened: string[] = [];
    client.on("open", (event) => opened.push(event.settings.server));

    const unary = await client.call("add", [1, 2]);

    const streamed: number[] = [];
    for await (const i of client.stream<number>("count", 5, { window: 2 })) {
      streamed.push(i);
    }

    const total = client.open<number, number>("total");
    for (let i = 1; i <= 40; i++) {
      await total.send(i);
    }
    await total.end();
    const sum = await total.result();

    const chat = client.open<string, string>("chat.echo");
    const lines = chat[Symbol.asyncIterator]();
    await chat.send("hi");
    const first = (await lines.next()).value;
    await chat.send("there");
    const second = (await lines.next()).value;
    await chat.end();
    const chatDone = (await lines.next()).done;

    const meta = client.open("meta", null, { metadata: { trace: "abc" } });
    const metaResult = await meta.result();

    let error: unknown;
    try {
      await client.call("fail");
    } catch (caught) {
      error = caught;
    }
    const failed = error instanceof SwillError ? [error.code, error.message, error.data, error.metadata] : String(error);

    const slow = client.stream<number>("slow");
    let taken = 0;
    for await (const _ of slow) {
      taken += 1;
      if (taken === 2) {
        break;
      }
    }

    const echoed = (await client.call("echo", {
      bytes: new Uint8Array([1, 2, 255]),
      date: new Date("2024-01-02T03:04:05.123Z"),
      big: 2n ** 63n + 5n,
    })) as { bytes: Uint8Array; date: Date; big: bigint };

    client.close();
    return {
      unary,
      streamed,
      sum,
      chat: [first, second, chatDone],
      meta: [metaResult, meta.leadingMetadata, meta.trailingMetadata],
      failed,
      taken,
      echoed: [
        echoed.bytes instanceof Uint8Array ? Array.from(echoed.bytes) : null,
        echoed.date instanceof Date ? echoed.date.toISOString() : null,
        typeof echoed.big === "bigint" ? echoed.big.toString() : null,
      ],
      opened,
    };
  });

  expect(results).toEqual({
    unary: 3,
    streamed: [0, 1, 2, 3, 4],
    sum: 820,
    chat: ["HI", "THERE", true],
    meta: [{ trace: "abc" }, { server: "a" }, { took_us: 41 }],
    failed: ["NOT_FOUND", "no such user", { id: 42 }, { "retry-after": 3 }],
    taken: 2,
    echoed: [[1, 2, 255], "2024-01-02T03:04:05.123Z", (2n ** 63n + 5n).toString()],
    opened: [expect.stringMatching(/^swill\//) as string],
  });
}, 30_000);

it("a subscription in the page survives its server being killed and restarted", async () => {
  // Topics on Redis, so that the ids go on across the restart; a second process publishes while
  // the page's server is down.
  const redis = await startRedis();
  let site = await startServer({ site: bundle, broker: redis.url });
  const publisher = await startServer({ broker: redis.url });
  const client = new Client(publisher.url, { WebSocket });
  try {
    await page.goto(site.url);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, { timeout: 10_000 });
    await page.evaluate(async () => {
      type Swill = typeof import("../../src/index.js");
      const { Client } = (window as unknown as { swill: Swill }).swill;
      const client = new Client("/rpc/ws", { retries: 1000, backoff: { initialDelayMs: 50, maxDelayMs: 250 } });
      const seen: unknown[] = [];
      (window as unknown as { seen: unknown[] }).seen = seen;
      for (const value of [1, 2, 3]) {
        await client.call("publish", ["ticks.fifo", value]);
      }
      void (async () => {
        for await (const { id, value, missed, restarted } of client.subscribe("ticks.fifo", { after: 0 })) {
          seen.push([id, value, missed, restarted]);
        }
      })();
    });
    const count = (n: number): Promise<unknown> =>
      page.waitForFunction((m) => (window as unknown as { seen: unknown[] }).seen.length >= m, n, { timeout: 20_000 });
    await count(3);
    await site.stop("SIGKILL");
    for (const value of [4, 5, 6]) {
      await client.call("publish", ["ticks.fifo", value]);
    }
    site = await startServer({ site: bundle, broker: redis.url, port: site.port });
    await count(6);
    const seen = await page.evaluate(() => (window as unknown as { seen: unknown[] }).seen);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((id) => [id, id, 0, false])); // nothing lost, nothing twice
  } finally {
    client.close();
    await page.goto("about:blank");
    await site.stop();
    await publisher.stop();
    await redis.stop();
  }
}, 60_000);
