// The client against a scripted in-memory server: every frame it sends is checked.
import { afterEach, describe, expect, it, vi } from "vitest";

import { Client, type ClientOptions } from "../../src/client.js";
import { Code, SwillError } from "../../src/errors.js";
import { FrameType } from "../../src/frames.js";
import { FakeServer } from "../helpers/fake-socket.js";
import { once, rejection } from "../helpers/wait.js";

const clients: Client[] = [];

function setup(options: ClientOptions = {}): { server: FakeServer; client: Client } {
  const server = new FakeServer();
  const client = new Client("ws://swill.test/ws", { WebSocket: server.WebSocket, ...options });
  clients.push(client);
  return { server, client };
}

afterEach(() => {
  for (const client of clients.splice(0)) {
    client.close();
  }
});

function events(client: Client): string[] {
  const seen: string[] = [];
  client.on("open", () => seen.push("open"));
  client.on("close", (e) => seen.push(`close ${e.code}`));
  client.on("reconnecting", (e) => seen.push(`reconnecting ${e.attempt}`));
  client.on("goaway", () => seen.push("goaway"));
  client.on("error", (e) => seen.push(`error ${e.error.code}`));
  return seen;
}

describe("unary calls", () => {
  it("sends REQUEST with data and resolves with RESPONSE", async () => {
    const { server, client } = setup();
    const result = client.call("add", [1, 2], { metadata: { trace: "abc" } });
    const socket = await server.accept();
    expect(socket.protocols).toEqual(["swill.v1"]);
    expect(socket.binaryType).toBe("arraybuffer");
    const request = await socket.expect(FrameType.REQUEST);
    expect(request).toEqual({
      type: FrameType.REQUEST,
      id: 1,
      rpc: "add",
      metadata: { trace: "abc" },
      options: null,
      data: [1, 2],
    });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    expect(await result).toBe(3);
  });

  it("adds the client's metadata, from an object or a function called per call, under the call's", async () => {
    let n = 0;
    const traceparent = () => ({ traceparent: `00-${"1".repeat(32)}-${String(++n).padStart(16, "0")}-01`, app: "a" });
    const { server, client } = setup({ metadata: traceparent });
    const first = client.call("add", [1, 2], { metadata: { app: "b" } });
    const socket = await server.accept();
    expect((await socket.expect(FrameType.REQUEST)).metadata).toEqual({
      traceparent: `00-${"1".repeat(32)}-0000000000000001-01`,
      app: "b",
    });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    await first;
    const streamed = client.stream("count", 1);
    expect((await socket.expect(FrameType.REQUEST)).metadata).toHaveProperty(
      "traceparent",
      `00-${"1".repeat(32)}-0000000000000002-01`,
    );
    streamed.cancel();
    const plain = setup({ metadata: { app: "c" } });
    const opened = plain.client.open("total");
    const other = await plain.server.accept();
    expect((await other.expect(FrameType.REQUEST)).metadata).toEqual({ app: "c" });
    opened.cancel();
  });

  it("sends undefined data as nil, never as no data", async () => {
    const { server, client } = setup();
    const result = client.call("swill.introspect");
    const socket = await server.accept();
    expect(await socket.expect(FrameType.REQUEST)).toHaveProperty("data", null);
    socket.push({ type: FrameType.RESPONSE, id: 1, data: "doc", leading: null, trailing: null });
    expect(await result).toBe("doc");
  });

  it("gives leading and trailing metadata on the call", async () => {
    const { server, client } = setup();
    const call = client.open("add", [1, 2]);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    expect(call.leadingMetadata).toBeUndefined();
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: { server: "a" }, trailing: { took_us: 41 } });
    expect(await call.result()).toBe(3);
    expect(call.leadingMetadata).toEqual({ server: "a" });
    expect(call.trailingMetadata).toEqual({ took_us: 41 });
    expect(call.done).toBe(true);
  });

  it("takes leading metadata from METADATA and defaults the rest to {}", async () => {
    const { server, client } = setup();
    const call = client.open("add", [1, 2]);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.METADATA, id: 1, metadata: { early: true } });
    expect(call.leadingMetadata).toEqual({ early: true });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    await call.result();
    expect(call.leadingMetadata).toEqual({ early: true });
    expect(call.trailingMetadata).toEqual({});
  });

  it("fails with the server's ERROR", async () => {
    const { server, client } = setup();
    const call = client.open("users.get", { id: 42 });
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({
      type: FrameType.ERROR,
      id: 1,
      code: "NOT_FOUND",
      message: "no such user",
      data: { id: 42 },
      metadata: { "retry-after": 3 },
    });
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.NOT_FOUND);
    expect(error.message).toBe("no such user");
    expect(error.data).toEqual({ id: 42 });
    expect(error.metadata).toEqual({ "retry-after": 3 });
    expect(call.trailingMetadata).toEqual({ "retry-after": 3 });
    expect(String(error)).toBe("SwillError: [NOT_FOUND] no such user");
  });

  it("reads an unknown error code as UNKNOWN", async () => {
    const { server, client } = setup();
    const result = client.call("f", 1);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.ERROR, id: 1, code: "TEAPOT", message: "", data: null, metadata: null });
    expect((await rejection(result)).code).toBe(Code.UNKNOWN);
  });

  it("yields a single response once when iterated", async () => {
    const { server, client } = setup();
    const call = client.open("add", [1, 2]);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    const seen: unknown[] = [];
    for await (const value of call) {
      seen.push(value);
    }
    expect(seen).toEqual([3]);
  });

  it("gives ids that only grow", async () => {
    const { server, client } = setup();
    const first = client.call("f", 1);
    const socket = await server.accept();
    const second = client.call("f", 2);
    const ids = [(await socket.expect(FrameType.REQUEST)).id, (await socket.expect(FrameType.REQUEST)).id];
    expect(ids).toEqual([1, 2]);
    socket.push({ type: FrameType.RESPONSE, id: 2, data: "b", leading: null, trailing: null });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: "a", leading: null, trailing: null });
    expect(await Promise.all([first, second])).toEqual(["a", "b"]);
  });
});

describe("server streams and flow control", () => {
  it("asks for the default window and grants credit as messages are taken", async () => {
    const { server, client } = setup({ window: 4 });
    const call = client.stream<number>("count", 10);
    const socket = await server.accept();
    const request = await socket.expect(FrameType.REQUEST);
    expect(request.options).toEqual({ window: 4 });
    for (let i = 0; i < 4; i++) {
      socket.push({ type: FrameType.DATA, id: 1, data: i });
    }
    expect(call.buffered).toBe(4);
    const iterator = call[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 0 });
    expect(socket.frames.pending).toEqual([]);
    expect(await iterator.next()).toEqual({ done: false, value: 1 });
    expect(await socket.expect(FrameType.CREDIT)).toEqual({ type: FrameType.CREDIT, id: 1, n: 2 });
    expect(call.buffered).toBe(2);
  });

  it("fails the call when the server sends beyond the window", async () => {
    const { server, client } = setup();
    const call = client.stream("count", 10, { window: 2 });
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    for (let i = 0; i < 3; i++) {
      socket.push({ type: FrameType.DATA, id: 1, data: i });
    }
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.message).toMatch(/beyond the granted credit/);
  });

  it("ends at END_OF_STREAM with trailing metadata", async () => {
    const { server, client } = setup();
    const call = client.stream<number>("count", 2);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.METADATA, id: 1, metadata: { total: 2 } });
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    socket.push({ type: FrameType.DATA, id: 1, data: 1 });
    socket.push({ type: FrameType.END_OF_STREAM, id: 1, metadata: { done: true } });
    const seen: number[] = [];
    for await (const value of call) {
      seen.push(value);
    }
    expect(seen).toEqual([0, 1]);
    expect(call.leadingMetadata).toEqual({ total: 2 });
    expect(call.trailingMetadata).toEqual({ done: true });
  });

  it("yields the messages that came before an ERROR, then throws it", async () => {
    const { server, client } = setup();
    const call = client.stream<number>("count", 2);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    socket.push({ type: FrameType.ERROR, id: 1, code: "INTERNAL", message: "boom", data: null, metadata: null });
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const value of call) {
          seen.push(value);
        }
      })(),
    );
    expect(seen).toEqual([0]);
    expect(error.code).toBe(Code.INTERNAL);
  });

  it("sends CLOSE when the loop is left early", async () => {
    const { server, client } = setup();
    const call = client.stream<number>("endless", null);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    for await (const value of call) {
      expect(value).toBe(0);
      break;
    }
    expect(await socket.expect(FrameType.CLOSE)).toEqual({
      type: FrameType.CLOSE,
      id: 1,
      reason: "the consumer stopped reading",
    });
    socket.push({ type: FrameType.DATA, id: 1, data: 1 }); // ignored after CLOSE
    expect((await rejection(call.result())).code).toBe(Code.CANCELLED);
  });

  it("rejects result() on a streamed response and cancels the call", async () => {
    const { server, client } = setup({ window: 2 });
    const call = client.stream<number>("count", 3);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    const result = call.result();
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    const error = await rejection(result);
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.message).toMatch(/streams its response: iterate the call/);
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
    expect(call.done).toBe(true);
  });

  it("rejects result() on a stream that ended empty, without CLOSE", async () => {
    const { server, client } = setup();
    const call = client.stream<number>("count", 0);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.END_OF_STREAM, id: 1, metadata: null });
    expect((await rejection(call.result())).code).toBe(Code.FAILED_PRECONDITION);
    expect(socket.frames.pending).toEqual([]);
  });

  it("rejects client.call() on a streaming rpc", async () => {
    const { server, client } = setup();
    const result = client.call("count", 3);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    expect((await rejection(result)).code).toBe(Code.FAILED_PRECONDITION);
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
  });

  it("fails a call on a frame the protocol does not allow", async () => {
    const { server, client } = setup();
    const call = client.stream("count", 3);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.DATA, id: 1, data: 0 });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.message).toMatch(/unexpected RESPONSE in state STREAMING/);
  });
});

describe("streamed requests", () => {
  it("sends DATA and END_OF_STREAM, and the REQUEST without data", async () => {
    const { server, client } = setup();
    const call = client.open<number, number>("total");
    const socket = await server.accept();
    const request = await socket.expect(FrameType.REQUEST);
    expect(request).not.toHaveProperty("data");
    expect(request.options).toEqual({ window: 32 });
    await call.send(1);
    await call.send(2);
    await call.end();
    expect(await socket.expect(FrameType.DATA)).toEqual({ type: FrameType.DATA, id: 1, data: 1 });
    expect(await socket.expect(FrameType.DATA)).toEqual({ type: FrameType.DATA, id: 1, data: 2 });
    expect(await socket.expect(FrameType.END_OF_STREAM)).toEqual({ type: FrameType.END_OF_STREAM, id: 1, metadata: null });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    expect(await call.result()).toBe(3);
  });

  it("waits for credit beyond client_window, counting the data in REQUEST", async () => {
    const { server, client } = setup();
    const call = client.open<number, number>("total", 0);
    const socket = await server.accept({ client_window: 2 });
    await socket.expect(FrameType.REQUEST);
    await call.send(1);
    let sent = false;
    const blocked = call.send(2).then(() => {
      sent = true;
    });
    await socket.expect(FrameType.DATA);
    await Promise.resolve();
    expect(sent).toBe(false);
    expect(socket.frames.pending).toEqual([]);
    socket.push({ type: FrameType.CREDIT, id: 1, n: 1 });
    await blocked;
    expect(await socket.expect(FrameType.DATA)).toMatchObject({ data: 2 });
  });

  it("keeps the order of sends made without waiting", async () => {
    const { server, client } = setup();
    const call = client.open<string, number>("chat.echo");
    const sends = [call.send(1), call.send(2), call.send(3), call.end()];
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    await Promise.all(sends);
    const frames = [await socket.next(), await socket.next(), await socket.next(), await socket.next()];
    expect(frames.map((f) => f.type)).toEqual([FrameType.DATA, FrameType.DATA, FrameType.DATA, FrameType.END_OF_STREAM]);
    expect(frames.slice(0, 3).map((f) => ("data" in f ? f.data : undefined))).toEqual([1, 2, 3]);
  });

  it("refuses send() after end() and after the call is over", async () => {
    const { server, client } = setup();
    const call = client.open<number, number>("total");
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    await call.end();
    expect((await rejection(call.send(1))).code).toBe(Code.FAILED_PRECONDITION);
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 0, leading: null, trailing: null });
    await call.result();
    expect((await rejection(call.send(1))).message).toMatch(/over/);
    await call.end(); // a no-op
  });

  it("rejects send() with the call's error once it failed", async () => {
    const { server, client } = setup();
    const call = client.open<number, number>("total");
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.ERROR, id: 1, code: "INVALID_ARGUMENT", message: "bad", data: null, metadata: null });
    expect((await rejection(call.send(1))).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("limits", () => {
  it("refuses a REQUEST larger than max_message_size without sending it", async () => {
    const { server, client } = setup();
    const result = client.call("f", "x".repeat(100));
    const socket = await server.accept({ max_message_size: 64 });
    const error = await rejection(result);
    expect(error.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(error.message).toMatch(/exceeds the server's max_message_size \(64\)/);
    const next = client.call("f", 1);
    expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 1, data: 1 });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
    expect(await next).toBe(1);
  });

  it("refuses a large DATA and lets the call go on", async () => {
    const { server, client } = setup();
    const call = client.open<number, string>("total");
    const socket = await server.accept({ max_message_size: 64 });
    await socket.expect(FrameType.REQUEST);
    expect((await rejection(call.send("x".repeat(100)))).code).toBe(Code.RESOURCE_EXHAUSTED);
    await call.send("small");
    expect(await socket.expect(FrameType.DATA)).toMatchObject({ data: "small" });
    expect(call.done).toBe(false);
  });

  it("holds calls beyond max_concurrent_calls until one ends, in order", async () => {
    const { server, client } = setup();
    const results = [1, 2, 3, 4].map((i) => client.call("f", i));
    const socket = await server.accept({ max_concurrent_calls: 2 });
    expect((await socket.expect(FrameType.REQUEST)).data).toBe(1);
    expect((await socket.expect(FrameType.REQUEST)).data).toBe(2);
    await Promise.resolve();
    expect(socket.frames.pending).toEqual([]);
    socket.push({ type: FrameType.RESPONSE, id: 2, data: "b", leading: null, trailing: null });
    expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 3, data: 3 });
    socket.push({ type: FrameType.ERROR, id: 1, code: "ABORTED", message: "", data: null, metadata: null });
    expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 4, data: 4 });
    socket.push({ type: FrameType.RESPONSE, id: 3, data: "c", leading: null, trailing: null });
    socket.push({ type: FrameType.RESPONSE, id: 4, data: "d", leading: null, trailing: null });
    expect((await rejection(results[0] as Promise<unknown>)).code).toBe(Code.ABORTED);
    expect(await Promise.all(results.slice(1))).toEqual(["b", "c", "d"]);
  });

  it("refuses values MessagePack can't hold", async () => {
    const { server, client } = setup();
    const result = client.call("f", 2n ** 70n);
    await server.accept();
    expect((await rejection(result)).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("cancellation and deadlines", () => {
  it("sends CLOSE on cancel() and fails with CANCELLED", async () => {
    const { server, client } = setup();
    const call = client.open("wait", 10);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    call.cancel("changed my mind");
    expect(await socket.expect(FrameType.CLOSE)).toEqual({ type: FrameType.CLOSE, id: 1, reason: "changed my mind" });
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.CANCELLED);
    expect(error.message).toBe("changed my mind");
  });

  it("cancels on an aborted signal", async () => {
    const { server, client } = setup();
    const controller = new AbortController();
    const result = client.call("wait", 10, { signal: controller.signal });
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    controller.abort();
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
    const error = await rejection(result);
    expect(error.code).toBe(Code.CANCELLED);
    expect(error.cause).toBeInstanceOf(DOMException);
  });

  it("sends nothing for a signal aborted before the call", async () => {
    const { server, client } = setup();
    const controller = new AbortController();
    controller.abort(new SwillError(Code.ABORTED, "mine"));
    const error = await rejection(client.call("wait", 10, { signal: controller.signal }));
    expect(error.code).toBe(Code.ABORTED);
    expect(server.all).toEqual([]);
  });

  it("cancels a call that waits for its connection", async () => {
    const { server, client } = setup();
    const controller = new AbortController();
    const result = client.call("wait", 1, { signal: controller.signal });
    const socket = await server.connection();
    controller.abort();
    expect((await rejection(result)).code).toBe(Code.CANCELLED);
    socket.accept();
    void client.call("f", 1).catch(() => undefined);
    expect(await socket.next()).toMatchObject({ type: FrameType.REQUEST, id: 1, rpc: "f" });
  });

  it("sends the deadline and enforces it", async () => {
    const { server, client } = setup();
    const call = client.open("wait", 10, { timeoutMs: 200 });
    const socket = await server.accept();
    const request = await socket.expect(FrameType.REQUEST);
    expect(request.options?.timeout).toBeGreaterThan(0);
    expect(request.options?.timeout).toBeLessThanOrEqual(200);
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
  });
});

describe("connection life", () => {
  it("fails open calls with UNAVAILABLE when the connection is lost, then reconnects", async () => {
    const { server, client } = setup({ backoff: { initialDelayMs: 1 } });
    const seen = events(client);
    const call = client.stream("endless", null);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    expect(client.state).toBe("open");
    const reopened = once(client, "open");
    socket.drop(1012, "restart");
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(/1012 restart/);
    const again = await server.accept();
    await reopened;
    expect(seen).toEqual(["open", "close 1012", "reconnecting 1", "open"]);
    const result = client.call("f", 1);
    expect(await again.expect(FrameType.REQUEST)).toMatchObject({ id: 1 });
    again.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
    expect(await result).toBe(1);
  });

  it("retries a failed dial with backoff, then fails the waiting calls", async () => {
    const { server, client } = setup({ retries: 2, backoff: { initialDelayMs: 1 } });
    const seen = events(client);
    server.onSocket = (socket) => socket.drop(1006);
    const error = await rejection(client.call("f", 1));
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(/can't connect to ws:\/\/swill.test\/ws: .*1006/);
    expect(server.all).toHaveLength(3);
    expect(seen).toEqual(["reconnecting 1", "reconnecting 2"]);
    expect(client.state).toBe("idle");
  });

  it("bounds a call waiting through a dial's retries by its own timeout and signal", async () => {
    const { server, client } = setup({ backoff: { initialDelayMs: 60_000 } }); // retries would take hours
    server.onSocket = (socket) => socket.drop(1006);
    const reconnecting = once(client, "reconnecting");
    const timed = client.call("f", 1, { timeoutMs: 30 });
    const controller = new AbortController();
    const aborted = client.call("f", 2, { signal: controller.signal });
    await reconnecting;
    expect((await rejection(timed)).code).toBe(Code.DEADLINE_EXCEEDED);
    controller.abort();
    expect((await rejection(aborted)).code).toBe(Code.CANCELLED);
    expect(server.all).toHaveLength(1);
    client.close();
  });

  it("does not reconnect after a 44xx close, until connect()", async () => {
    const { server, client } = setup({ backoff: { initialDelayMs: 1 } });
    server.onSocket = (socket) => socket.drop(4401, "bad token");
    const error = await rejection(client.call("f", 1));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toBe("bad token");
    expect((await rejection(client.call("f", 1))).code).toBe(Code.UNAUTHENTICATED);
    expect(server.all).toHaveLength(1);
    server.onSocket = (socket) => socket.accept();
    expect((await client.connect()).server).toBe("fake/1");
    expect(server.all).toHaveLength(2);
  });

  it("does not reconnect after a 44xx close of an open connection", async () => {
    const { server, client } = setup({ backoff: { initialDelayMs: 1 } });
    await Promise.all([client.connect(), server.accept()]);
    server.all[0]?.drop(4403, "");
    const error = await rejection(client.call("f", 1));
    expect(error.code).toBe(Code.PERMISSION_DENIED);
    expect(server.all).toHaveLength(1);
  });

  it("opens a new connection for new calls after GOAWAY", async () => {
    const { server, client } = setup();
    const seen = events(client);
    const old = client.open("wait", 1);
    const first = await server.accept();
    await first.expect(FrameType.REQUEST);
    first.push({ type: FrameType.GOAWAY, id: 0, reason: "restarting" });
    const fresh = client.call("f", 2);
    const second = await server.accept();
    expect(await second.expect(FrameType.REQUEST)).toMatchObject({ id: 1, data: 2 });
    second.push({ type: FrameType.RESPONSE, id: 1, data: "new", leading: null, trailing: null });
    expect(await fresh).toBe("new");
    expect(first.closedWith).toBeUndefined();
    first.push({ type: FrameType.RESPONSE, id: 1, data: "old", leading: null, trailing: null });
    expect(await old.result()).toBe("old");
    expect(first.closedWith?.code).toBe(1000);
    expect(seen).toEqual(["open", "goaway", "open"]);
  });

  it("declares the connection dead when a PING goes unanswered", async () => {
    const { server, client } = setup({ pingIntervalMs: 10, pongTimeoutMs: 30, reconnect: false });
    const seen = events(client);
    const call = client.open("wait", 1);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    const ping = await socket.expect(FrameType.PING);
    socket.push({ type: FrameType.PONG, nonce: ping.nonce });
    const second = await socket.expect(FrameType.PING);
    expect(second.nonce).toBe(ping.nonce + 1);
    const error = await rejection(call.result());
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(/no PONG within 30 ms/);
    expect(socket.closedWith?.code).toBe(4000);
    expect(seen).toEqual(["open", "close 1006"]);
  });

  it("reports ERROR on id 0, malformed frames and text messages as connection errors", async () => {
    const { server, client } = setup();
    const seen = events(client);
    const call = client.open("wait", 1);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.ERROR, id: 0, code: "INVALID_ARGUMENT", message: "x", data: null, metadata: null });
    socket.pushText("hello");
    socket.pushBytes(new Uint8Array([0x93, 0x0c, 0x09, 0x01])); // unknown type 12 on an unknown id
    socket.pushBytes(new Uint8Array([0x93, 0x28, 0x01, 0x01])); // an extension: ignored
    expect(seen).toEqual(["open", "error INVALID_ARGUMENT", "error INTERNAL", "error INTERNAL"]);
    expect(call.done).toBe(false);
    socket.pushBytes(new Uint8Array([0x92, 0x01, 0x01])); // DATA without data, on call 1
    expect((await rejection(call.result())).message).toMatch(/malformed DATA frame/);
  });

  it("refuses a server whose first frame is not HELLO", async () => {
    const { server, client } = setup({ retries: 0, reconnect: false });
    const result = client.call("f", 1);
    const socket = await server.connection();
    socket.open();
    await socket.expect(FrameType.REQUEST); // a call need not wait for HELLO
    socket.push({ type: FrameType.PONG, nonce: 1 });
    const error = await rejection(result);
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.message).toMatch(/the first frame is not HELLO/);
    expect(socket.closedWith?.code).toBe(1002);
  });

  it("gives up on a server that sends no HELLO in time", async () => {
    const { server, client } = setup({ retries: 0, connectTimeoutMs: 20 });
    const result = client.call("f", 1);
    await server.connection();
    expect((await rejection(result)).message).toMatch(/no HELLO from the server within 20 ms/);
  });

  it("close() cancels open calls, and a later call connects again", async () => {
    const { server, client } = setup();
    const seen = events(client);
    const call = client.open("wait", 1);
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    client.close();
    expect((await rejection(call.result())).code).toBe(Code.CANCELLED);
    expect(socket.closedWith?.code).toBe(1000);
    const result = client.call("f", 1);
    const again = await server.accept();
    await again.expect(FrameType.REQUEST);
    again.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
    expect(await result).toBe(1);
    expect(seen).toEqual(["open", "close 1000", "open"]);
  });

  it("close() stops a pending dial", async () => {
    const { server, client } = setup({ backoff: { initialDelayMs: 10_000 } });
    server.onSocket = (socket) => socket.drop(1006);
    const reconnecting = once(client, "reconnecting");
    const result = client.call("f", 1);
    await reconnecting;
    client.close();
    expect((await rejection(result)).code).toBe(Code.CANCELLED);
    expect(client.state).toBe("idle");
  });

  it("close() during the handshake fails waiting calls at once and drops the late connection", async () => {
    const { server, client } = setup();
    const result = client.call("f", 1);
    const socket = await server.connection();
    client.close();
    expect((await rejection(result)).code).toBe(Code.CANCELLED);
    socket.accept();
    await Promise.resolve();
    expect(socket.closedWith?.code).toBe(1000);
    expect(client.state).toBe("idle");
  });

  it("reports a listener that throws without stopping the client", async () => {
    const { server, client } = setup();
    const reported: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, "queueMicrotask").mockImplementation((task) => reported.push(task));
    try {
      client.on("open", () => {
        throw new Error("listener bug");
      });
      const result = client.call("f", 1);
      const socket = await server.accept();
      expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 1 });
      socket.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
      expect(await result).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(reported).toHaveLength(1);
    expect(() => reported[0]?.()).toThrow("listener bug");
  });

  it("exposes the server's settings", async () => {
    const { server, client } = setup();
    const [settings] = await Promise.all([client.connect(), server.accept({ future: 1 })]);
    expect(settings).toMatchObject({ version: 1, maxMessageSize: 1 << 20, clientWindow: 16, server: "fake/1" });
    expect(settings.hello).toMatchObject({ future: 1 });
    expect(client.settings).toBe(settings);
  });

  it("needs a WebSocket implementation", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new Client("ws://x/ws")).toThrow(/no WebSocket implementation/);
    } finally {
      if (saved !== undefined) {
        global.WebSocket = saved;
      }
    }
  });

  it("turns http URLs into ws URLs", () => {
    const server = new FakeServer();
    expect(new Client("http://h:1/ws", { WebSocket: server.WebSocket }).url).toBe("ws://h:1/ws");
    expect(new Client("https://h/ws", { WebSocket: server.WebSocket }).url).toBe("wss://h/ws");
  });
});
