// A hostile server over a real socket (a `ws` server in this process): whatever it sends, the
// client turns into errors on the call it names or on the connection, never an exception, and
// the connection goes on serving the other calls.
import { afterEach, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";

import { Client, Code, SwillError, decodeValue, encodeValue } from "../../src/index.js";
import { rejection } from "../helpers/wait.js";

const HELLO = [8, 0, { version: 1, max_message_size: 1 << 20, max_concurrent_calls: 100, client_window: 16, server: "hostile/1" }];

const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) {
    await step();
  }
});

/** A server that answers REQUEST `rpc` with `reply(id)`: raw messages, hostile or not. */
async function hostile(reply: (rpc: string, id: number) => (Uint8Array | string)[]): Promise<string> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "swill.v1" });
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  server.on("connection", (socket) => {
    socket.send(encodeValue(HELLO));
    socket.on("message", (data: Buffer) => {
      const frame = decodeValue(data) as unknown[];
      if (frame[0] === 0) {
        for (const message of reply(frame[2] as string, frame[1] as number)) {
          socket.send(message);
        }
      }
    });
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  return `ws://127.0.0.1:${port}/ws`;
}

function nested(depth: number, id: number): Uint8Array {
  const bytes = new Uint8Array(depth + 4);
  bytes.set([0x93, 0x06, id], 0); // RESPONSE id data…
  bytes.fill(0x91, 3, 3 + depth);
  bytes[3 + depth] = 0xc0;
  return bytes;
}

it.each([
  ["deep nesting", (id: number) => [nested(10_000, id)], Code.INTERNAL, /nested deeper than 256/],
  ["an oversize message", (id: number) => [encodeValue([6, id, "x".repeat(200_000)])], Code.RESOURCE_EXHAUSTED, /exceeds the client's limit/],
  ["truncated bytes", (id: number) => [Uint8Array.from([0x93, 0x06, id, 0xa5, 0x61])], Code.INTERNAL, /protocol violation/],
  ["a client-only frame", (id: number) => [encodeValue([0, id, "x"])], Code.INTERNAL, /unexpected frame type 0/],
  ["RESPONSE after DATA", (id: number) => [encodeValue([1, id, 0]), encodeValue([6, id, 1])], Code.INTERNAL, /unexpected RESPONSE/],
])("%s fails the call it names; the connection serves the next call", async (_, attack, code, message) => {
  const url = await hostile((rpc, id) => (rpc === "attack" ? attack(id) : [encodeValue([6, id, "fine"])]));
  const client = new Client(url, { WebSocket, maxReceiveSize: 100_000 });
  cleanup.push(() => client.close());
  const errors: SwillError[] = [];
  client.on("error", ({ error }) => errors.push(error));
  const error = await rejection(client.call("attack"));
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(await client.call("ok")).toBe("fine");
  expect(errors).toEqual([]);
});

it.each([
  ["an id of 2^53", () => [encodeValue([6, 2 ** 53, "x"])], 1],
  ["an id of 2^64 - 1", () => [encodeValue([6, 2n ** 64n - 1n, "x"])], 1],
  ["a text message", () => ["hello"], 1],
  ["deep nesting without an id", () => [new Uint8Array(1_000_000).fill(0x91)], 1],
  ["a frame for a call that never existed (ignored)", () => [encodeValue([6, 999, "x"]), encodeValue([1, 998, 1])], 0],
])("%s is reported on the connection, disturbing no call", async (_, attack, reported) => {
  const url = await hostile((_rpc, id) => [...attack(), encodeValue([6, id, "fine"])]);
  const client = new Client(url, { WebSocket });
  cleanup.push(() => client.close());
  const errors: SwillError[] = [];
  client.on("error", ({ error }) => errors.push(error));
  expect(await client.call("ok")).toBe("fine");
  expect(errors.map((e) => e.code)).toEqual(Array.from({ length: reported }, () => Code.INTERNAL));
});
