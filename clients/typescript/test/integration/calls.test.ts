// Every call kind, metadata, errors, cancellation, deadlines and credit against a real Swill server.
import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

import { Client, Code } from "../../src/index.js";
import { type TestServer, startServer } from "../helpers/server.js";
import { rejection } from "../helpers/wait.js";

let server: TestServer;
let client: Client;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url, { WebSocket });
});

afterAll(async () => {
  client.close();
  await server.stop();
});

describe("call kinds", () => {
  it("unary", async () => {
    expect(await client.call("add", [1, 2])).toBe(3);
  });

  it("server streaming", async () => {
    const seen: number[] = [];
    for await (const i of client.stream<number>("count", 5)) {
      seen.push(i);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it("client streaming, beyond the server's client_window", async () => {
    const call = client.open<number, number>("total");
    const settings = await client.connect();
    expect(settings.clientWindow).toBe(16);
    for (let i = 1; i <= 100; i++) {
      await call.send(i);
    }
    await call.end();
    expect(await call.result()).toBe(5050);
  });

  it("client streaming with the first message in REQUEST", async () => {
    const call = client.open<number, number>("total", 10);
    await call.send(5);
    await call.end();
    expect(await call.result()).toBe(15);
  });

  it("bidirectional", async () => {
    const call = client.open<string, string>("chat.echo");
    const lines = call[Symbol.asyncIterator]();
    await call.send("hello");
    expect(await lines.next()).toEqual({ done: false, value: "HELLO" });
    await call.send("world");
    expect(await lines.next()).toEqual({ done: false, value: "WORLD" });
    await call.end();
    expect(await lines.next()).toEqual({ done: true, value: undefined });
  });

  it("open() on a unary rpc", async () => {
    const call = client.open<number>("add", [2, 3]);
    expect(await call.result()).toBe(5);
    expect(call.leadingMetadata).toEqual({});
    expect(call.trailingMetadata).toEqual({});
  });

  it("many calls at once, more than the server's max_concurrent_calls", async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => client.call("add", [i, 1])));
    expect(results).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });
});

describe("metadata", () => {
  it("sends client metadata and receives leading and trailing metadata", async () => {
    const call = client.open("meta", null, { metadata: { trace: "abc", n: 1 } });
    expect(await call.result()).toEqual({ trace: "abc", n: 1 });
    expect(call.leadingMetadata).toEqual({ server: "a" });
    expect(call.trailingMetadata).toEqual({ took_us: 41 });
  });

  it("has leading metadata before the first message of a stream", async () => {
    const call = client.stream<number>("meta_stream", 3);
    const seen: number[] = [];
    for await (const i of call) {
      expect(call.leadingMetadata).toEqual({ total: 3 });
      seen.push(i);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(call.trailingMetadata).toEqual({ done: true });
  });
});

describe("errors", () => {
  it("carries code, message, data and metadata", async () => {
    const error = await rejection(client.call("fail"));
    expect(error.code).toBe(Code.NOT_FOUND);
    expect(error.message).toBe("no such user");
    expect(error.data).toEqual({ id: 42 });
    expect(error.metadata).toEqual({ "retry-after": 3 });
  });

  it("names an unknown rpc UNIMPLEMENTED", async () => {
    expect((await rejection(client.call("nope", 1))).code).toBe(Code.UNIMPLEMENTED);
  });

  it("reports validation problems with their paths", async () => {
    const error = await rejection(client.call("positive", -1));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.data).toEqual([{ path: "$", message: expect.any(String) as string }]);
  });

  it("names the invalid message of a streamed request by its index", async () => {
    const call = client.open<unknown, number>("total", 10); // index 0
    await call.send(5);
    await call.send("six" as unknown as number); // index 2: not an int, as a careless caller might send
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toBe("invalid request message at index 2 of the stream: Expected `int`, got `str` at $");
    expect(error.data).toEqual([{ path: "$", message: "Expected `int`, got `str`", index: 2 }]);
  });

  it("yields a stream's messages, then its error", async () => {
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const i of client.stream<number>("fail_midway", 2)) {
          seen.push(i);
        }
      })(),
    );
    expect(seen).toEqual([0, 1]);
    expect(error.code).toBe(Code.ABORTED);
  });

  it("refuses a message larger than the server's max_message_size before sending it", async () => {
    const error = await rejection(client.call("echo", "x".repeat(70 * 1024)));
    expect(error.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(error.message).toMatch(/max_message_size \(65536\)/);
    expect(await client.call("add", [1, 1])).toBe(2);
  });
});

describe("wire fidelity", () => {
  const value = {
    bytes: new Uint8Array([0, 1, 254, 255]),
    date: new Date("2024-01-02T03:04:05.123Z"),
    big: 2n ** 63n + 5n,
    negative: -(2n ** 60n),
    safe: 1_700_000_000_123,
    float: 1.5,
    text: "Zoë",
    nil: null,
  };

  it("round-trips bin, timestamps and 64-bit integers", async () => {
    const back = (await client.call("echo", value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect(typeof back.big).toBe("bigint");
    expect(typeof back.safe).toBe("number");
  });

  it("arrives as bytes, datetime and int on the server", async () => {
    const kinds = await client.call("kinds", Object.values(value));
    expect(kinds).toEqual(["bytes", "datetime", "int", "int", "int", "float", "str", "NoneType"]);
  });

  it("reads a timestamp from the server as a Date", async () => {
    expect(await client.call("now")).toEqual(new Date("2024-01-02T03:04:05.123Z"));
  });
});

describe("cancellation and deadlines", () => {
  it("leaving the loop early cancels the call on the server", async () => {
    const key = randomUUID();
    const call = client.stream<number>("slow", null, { metadata: { key } });
    const seen: number[] = [];
    for await (const i of call) {
      seen.push(i);
      if (seen.length === 3) {
        break;
      }
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(await client.call("ended", key)).toBe("CANCELLED");
    expect((await rejection(call.result())).code).toBe(Code.CANCELLED);
  });

  it("an aborted signal cancels the call on the server", async () => {
    const key = randomUUID();
    const controller = new AbortController();
    const call = client.stream<number>("slow", null, { metadata: { key }, signal: controller.signal });
    const iterator = call[Symbol.asyncIterator]();
    await iterator.next(); // the handler runs
    controller.abort();
    expect((await rejection(iterator.next())).code).toBe(Code.CANCELLED);
    expect(await client.call("ended", key)).toBe("CANCELLED");
  });

  it("a deadline ends the call on both sides", async () => {
    const key = randomUUID();
    const started = Date.now();
    const error = await rejection(client.call("wait", 5, { timeoutMs: 100, metadata: { key } }));
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2000);
    // The client's own timer and the server's deadline race; either way the handler did not finish.
    expect(["DEADLINE_EXCEEDED", "CANCELLED"]).toContain(await client.call("ended", key));
  });

  it("a call that finishes in time is not cancelled", async () => {
    const key = randomUUID();
    expect(await client.call("wait", 0.01, { timeoutMs: 5000, metadata: { key } })).toBe("done");
    expect(await client.call("ended", key)).toBe("ok");
  });
});
