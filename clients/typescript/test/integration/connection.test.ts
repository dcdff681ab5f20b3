// Connection life against real servers: a restart, GOAWAY, a refused connection, keepalive.
import { afterEach, expect, it } from "vitest";
import { WebSocket } from "ws";

import { Client, Code } from "../../src/index.js";
import { type TestServer, startServer } from "../helpers/server.js";
import { once, rejection } from "../helpers/wait.js";

const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) {
    await step();
  }
});

async function serve(port?: number): Promise<TestServer> {
  const server = await startServer(port === undefined ? {} : { port });
  cleanup.push(() => server.stop());
  return server;
}

function connect(url: string, options: ConstructorParameters<typeof Client>[1] = {}): Client {
  const client = new Client(url, { WebSocket, ...options });
  cleanup.push(() => client.close());
  return client;
}

function record(client: Client): string[] {
  const seen: string[] = [];
  client.on("open", () => seen.push("open"));
  client.on("close", (e) => seen.push(`close ${e.code}`));
  client.on("reconnecting", () => seen.push("reconnecting"));
  client.on("goaway", () => seen.push("goaway"));
  return seen;
}

it("fails open calls when the server goes away, and reconnects when it is back", async () => {
  const first = await serve();
  const client = connect(first.url, { retries: 30, backoff: { initialDelayMs: 50, maxDelayMs: 400 } });
  const seen = record(client);
  const stream = client.stream<number>("slow");
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();

  const closed = once(client, "close");
  await first.stop();
  // The messages that arrived before the loss come first, then the error.
  const error = await rejection(
    (async () => {
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        expect(typeof next.value).toBe("number");
      }
    })(),
  );
  expect(error.code).toBe(Code.UNAVAILABLE);
  expect([1001, 1006, 1012]).toContain((await closed).code);

  const reopened = once(client, "open");
  await serve(first.port);
  await reopened;
  expect(await client.call("add", [2, 2])).toBe(4);
  expect(seen[0]).toBe("open");
  expect(seen[1]).toMatch(/^close /);
  expect(seen).toContain("reconnecting");
  expect(seen[seen.length - 1]).toBe("open");
});

it("a call made while the server is down waits for it to come back", async () => {
  const first = await serve();
  const client = connect(first.url, { retries: 30, backoff: { initialDelayMs: 50, maxDelayMs: 400 } });
  await client.connect();
  await first.stop();
  const reconnecting = once(client, "reconnecting");
  const result = client.call("add", [3, 4]);
  await reconnecting;
  await serve(first.port);
  expect(await result).toBe(7);
});

it("moves new calls to a new connection after GOAWAY and lets open ones finish", async () => {
  const server = await serve();
  const client = connect(server.url);
  const seen = record(client);
  const open = client.open("wait", 0.3);
  const goaway = once(client, "goaway");
  await client.call("goaway", 2.0);
  expect((await goaway).reason).toBe("server shutting down");
  expect(await client.call("add", [1, 1])).toBe(2);
  expect(await open.result()).toBe("done");
  expect(seen).toEqual(["open", "goaway", "open"]);
});

it("does not reconnect after the server refuses the connection (4401)", async () => {
  const server = await serve();
  const client = connect(`${server.url}?token=bad`, { backoff: { initialDelayMs: 1 } });
  const seen = record(client);
  const error = await rejection(client.call("add", [1, 1]));
  expect(error.code).toBe(Code.UNAUTHENTICATED);
  expect(error.message).toBe("bad token");
  expect((await rejection(client.call("add", [1, 1]))).code).toBe(Code.UNAUTHENTICATED);
  expect(seen).toEqual([]);
});

it("says why the server refused the page's origin, and does not reconnect (4403)", async () => {
  const server = await serve();
  // A browser sends its page's origin; `ws` sends one when asked to.
  class ForeignPage extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { origin: "http://localhost:5173" });
    }
  }
  const client = connect(server.url, { WebSocket: ForeignPage, backoff: { initialDelayMs: 1 } });
  const seen = record(client);
  const error = await rejection(client.call("add", [1, 1]));
  expect(error.code).toBe(Code.PERMISSION_DENIED);
  expect(error.message).toContain("origin http://localhost:5173 is not allowed");
  expect(error.message).toContain("swill run --dev");
  expect(seen).toEqual([]);
});

it("keeps a connection alive with PING frames the server answers", async () => {
  const server = await serve();
  const client = connect(server.url, { pingIntervalMs: 20, pongTimeoutMs: 500 });
  const seen = record(client);
  await client.connect();
  // Several pings go out and come back while a call takes 300 ms.
  expect(await client.call("wait", 0.3)).toBe("done");
  expect(seen).toEqual(["open"]);
});
