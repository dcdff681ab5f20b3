// Flow control: 100,000 streamed messages to a consumer that sleeps now and then. The server may
// only run ahead by the window, so the client never buffers more than the window.
import { setTimeout as sleep } from "node:timers/promises";

import { afterAll, beforeAll, expect, it } from "vitest";
import { WebSocket } from "ws";

import { Client } from "../../src/index.js";
import { type TestServer, startServer } from "../helpers/server.js";

const TOTAL = 100_000;
const WINDOW = 64;
const PAUSES = new Set([10, 50_000, TOTAL - 1000]);

let server: TestServer;
let client: Client;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url, { WebSocket, window: WINDOW });
});

afterAll(async () => {
  client.close();
  await server.stop();
});

it("never buffers more than the window for a slow consumer", async () => {
  const call = client.stream<number>("firehose", TOTAL);
  let expected = 0;
  let maxBuffered = 0;
  for await (const i of call) {
    expect(i).toBe(expected);
    expected += 1;
    maxBuffered = Math.max(maxBuffered, call.buffered);
    if (PAUSES.has(expected)) {
      await sleep(200);
      // The server had time to send all it may: the buffer filled up to the window, no further.
      expect(call.buffered).toBeLessThanOrEqual(WINDOW);
      expect(call.buffered).toBeGreaterThanOrEqual(WINDOW / 2);
      // ... and its producer waits, at most one value ahead of the credit it was given.
      const produced = await client.call<number>("produced");
      expect(produced - expected).toBeLessThanOrEqual(WINDOW + 1);
    }
  }
  expect(expected).toBe(TOTAL);
  expect(maxBuffered).toBeLessThanOrEqual(WINDOW);
  expect(call.trailingMetadata).toEqual({});
}, 60_000);
