// The in-memory server of `@swill/client/testing`, driven through the real client.
import { afterEach, describe, expect, it } from "vitest";

import type { Client } from "../../src/client.js";
import { Code, SwillError } from "../../src/errors.js";
import { type ClientFrame, FrameType } from "../../src/frames.js";
import { bidi, clientStream, createTestServer, serverStream, unary } from "../../src/testing.js";
import { once, rejection } from "../helpers/wait.js";

type Rpcs = {
  add: { kind: "unary"; request: [number, number]; response: number };
  count: { kind: "server_stream"; request: number; response: number };
  total: { kind: "client_stream"; request: number; response: number };
  "chat.echo": { kind: "bidi"; request: string; response: string };
  whoami: { kind: "unary"; request: null; response: string };
  fail: { kind: "unary"; request: string; response: never };
  hang: { kind: "unary"; request: null; response: never };
  crash: { kind: "unary"; request: null; response: never };
};

/** A promise and its resolver, to wait on a handler's progress. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

let aborted = signal<unknown>();
let yielded = 0;

function makeServer() {
  aborted = signal<unknown>();
  yielded = 0;
  return createTestServer<Rpcs>({
    add: unary(([a, b]) => a + b),
    count: serverStream(async function* (n, context) {
      context.leading["rows"] = n;
      try {
        for (let i = 0; i < n; i++) {
          yielded += 1;
          yield i;
        }
      } finally {
        if (context.signal.aborted) {
          aborted.resolve(context.signal.reason);
        }
      }
      context.trailing["done"] = true;
    }),
    total: clientStream(async (numbers) => {
      let sum = 0;
      for await (const n of numbers) sum += n;
      return sum;
    }),
    "chat.echo": bidi(async function* (lines) {
      for await (const line of lines) yield line.toUpperCase();
    }),
    whoami: unary((_request, context) => {
      context.leading["server"] = "memory";
      context.trailing["took"] = 1;
      return String(context.metadata["user"]);
    }),
    fail: unary((field) => {
      throw new SwillError(Code.INVALID_ARGUMENT, "invalid", {
        data: [{ path: `$.${field}`, message: "required" }],
        metadata: { hint: "x" },
      });
    }),
    hang: unary(async (_request, context) => {
      await new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => {
          aborted.resolve(context.signal.reason);
          reject(context.signal.reason);
        });
      });
      return null as never;
    }),
    crash: unary(() => {
      throw new TypeError("boom");
    }),
  });
}

let client: Client | undefined;
afterEach(() => client?.close());

describe("createTestServer", () => {
  it("serves every call kind through the real client", async () => {
    const server = makeServer();
    client = server.client();
    expect(await client.call("add", [1, 2])).toBe(3);
    const values: number[] = [];
    for await (const i of client.stream<number>("count", 3)) values.push(i);
    expect(values).toEqual([0, 1, 2]);
    const total = client.open<number, number>("total");
    await total.send(1);
    await total.send(2);
    await total.end();
    expect(await total.result()).toBe(3);
    const chat = client.open<string, string>("chat.echo");
    await chat.send("hi");
    const replies: string[] = [];
    for await (const reply of chat) {
      replies.push(reply);
      if (replies.length === 1) await chat.send("there");
      else await chat.end();
    }
    expect(replies).toEqual(["HI", "THERE"]);
  });

  it("carries metadata both ways", async () => {
    client = makeServer().client();
    const call = client.open<string>("whoami", null, { metadata: { user: "ada" } });
    expect(await call.result()).toBe("ada");
    expect(call.leadingMetadata).toEqual({ server: "memory" });
    expect(call.trailingMetadata).toEqual({ took: 1 });
    const stream = client.stream<number>("count", 1);
    const values: number[] = [];
    for await (const value of stream) {
      values.push(value);
    }
    expect(values).toEqual([0]);
    expect(stream.leadingMetadata).toEqual({ rows: 1 });
    expect(stream.trailingMetadata).toEqual({ done: true });
  });

  it("sends a handler's SwillError as it is, and anything else as INTERNAL", async () => {
    client = makeServer().client();
    const error = await rejection(client.call("fail", "email"));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.data).toEqual([{ path: "$.email", message: "required" }]);
    expect(error.metadata).toEqual({ hint: "x" });
    const crash = await rejection(client.call("crash", null));
    expect([crash.code, crash.message]).toEqual([Code.INTERNAL, "boom"]);
    expect((await rejection(client.call("nope", null))).code).toBe(Code.UNIMPLEMENTED);
  });

  it("aborts the handler's signal on CLOSE and on a deadline", async () => {
    const server = makeServer();
    client = server.client();
    const frames: ClientFrame[] = [];
    server.onFrame((frame) => frames.push(frame));
    const controller = new AbortController();
    const call = client.call("hang", null, { signal: controller.signal });
    await expect.poll(() => server.openCalls).toBe(1);
    controller.abort();
    expect((await rejection(call)).code).toBe(Code.CANCELLED);
    expect(await aborted.promise).toBeInstanceOf(SwillError);
    expect(frames.map((frame) => frame.type)).toContain(FrameType.CLOSE);
    expect(server.openCalls).toBe(0);

    aborted = signal<unknown>();
    const late = await rejection(client.call("hang", null, { timeoutMs: 20 }));
    expect(late.code).toBe(Code.DEADLINE_EXCEEDED);
  });

  it("keeps a streamed response within the client's window", async () => {
    const server = makeServer();
    client = server.client();
    const stream = client.stream<number>("count", 100, { window: 4 });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(0);
    await expect.poll(() => stream.buffered).toBe(3);
    // The server waits for credit: no more than the window was produced.
    expect(yielded).toBeLessThanOrEqual(5);
    await iterator.return?.();
    expect(await aborted.promise).toBeInstanceOf(SwillError);
  });

  it("grants credit to a streamed request as the handler takes it", async () => {
    client = makeServer().client();
    const total = client.open<number, number>("total");
    for (let i = 0; i < 100; i++) await total.send(1); // far beyond client_window (16)
    await total.end();
    expect(await total.result()).toBe(100);
  });

  it("drops connections, refuses them and sends GOAWAY as a server would", async () => {
    const server = makeServer();
    client = server.client({ backoff: { initialDelayMs: 1, maxDelayMs: 5 } });
    await client.connect();
    const hanging = client.call("hang", null);
    await expect.poll(() => server.openCalls).toBe(1);
    const reconnected = once(client, "open");
    server.disconnect();
    expect((await rejection(hanging)).code).toBe(Code.UNAVAILABLE);
    await reconnected;
    expect(await client.call("add", [2, 2])).toBe(4);

    const goaway = once(client, "goaway");
    server.goaway();
    await goaway;
    expect(await client.call("add", [3, 3])).toBe(6); // on a new connection

    server.refuse(4401, "token expired");
    const gaveUp = once(client, "error"); // the background reconnect is refused
    server.disconnect(1012, "restart");
    expect((await gaveUp).error.code).toBe(Code.UNAUTHENTICATED);
    const refused = await rejection(client.call("add", [1, 1]));
    expect([refused.code, refused.message]).toEqual([Code.UNAUTHENTICATED, "token expired"]);
  });
});
