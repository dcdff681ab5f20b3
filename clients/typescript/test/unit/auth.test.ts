// Credentials: AUTH first on every connection, the single retry after 4401, reauthenticate().
import { afterEach, describe, expect, it } from "vitest";

import { Client, type ClientOptions } from "../../src/client.js";
import { Code } from "../../src/errors.js";
import { FrameType } from "../../src/frames.js";
import { FakeServer } from "../helpers/fake-socket.js";
import { rejection } from "../helpers/wait.js";

const clients: Client[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) {
    client.close();
  }
});

function setup(options: ClientOptions = {}): { server: FakeServer; client: Client; calls: () => number } {
  const server = new FakeServer();
  let n = 0;
  const client = new Client("ws://swill.test/ws", {
    WebSocket: server.WebSocket,
    backoff: { initialDelayMs: 1 },
    auth: async () => ({ token: `t${++n}` }),
    ...options,
  });
  clients.push(client);
  return { server, client, calls: () => n };
}

describe("auth", () => {
  it("sends AUTH first, at once, with REQUESTs right after it, before HELLO", async () => {
    const { server, client } = setup();
    const result = client.call("add", [1, 2]);
    const socket = await server.connection();
    socket.open();
    expect(await socket.next()).toEqual({ type: FrameType.AUTH, id: 0, credentials: { token: "t1" } });
    expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 1, rpc: "add" });
    expect(socket.url).toBe("ws://swill.test/ws");
    socket.push({ type: FrameType.HELLO, id: 0, settings: {} });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: 3, leading: null, trailing: null });
    expect(await result).toBe(3);
  });

  it("calls auth before every connection, a sync function too", async () => {
    let n = 0;
    const { server, client } = setup({ auth: () => `k${++n}` });
    const first = client.call("f", 1);
    const a = await server.accept();
    expect(await a.expect(FrameType.AUTH)).toMatchObject({ credentials: "k1" });
    a.drop(1006);
    await rejection(first);
    const second = client.call("f", 2);
    const b = await server.accept();
    expect(await b.expect(FrameType.AUTH)).toMatchObject({ credentials: "k2" });
    expect(await b.expect(FrameType.REQUEST)).toMatchObject({ data: 2 });
    b.push({ type: FrameType.RESPONSE, id: 1, data: "ok", leading: null, trailing: null });
    expect(await second).toBe("ok");
  });

  it("after a 4401 asks auth once more and reconnects at once; a second 4401 in a row is final", async () => {
    const { server, client, calls } = setup({ backoff: { initialDelayMs: 60_000 } });
    const first = client.call("f", 1);
    const a = await server.accept();
    await a.expect(FrameType.AUTH);
    await a.expect(FrameType.REQUEST);
    a.drop(4401, "token expired");
    expect(await rejection(first)).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token expired" });
    const b = await server.accept(); // no backoff: the 60 s delay would time this out
    expect(await b.expect(FrameType.AUTH)).toMatchObject({ credentials: { token: "t2" } });
    b.drop(4401, "refresh token revoked");
    const error = await rejection(client.call("f", 2));
    expect(error).toMatchObject({ code: Code.UNAUTHENTICATED, message: "refresh token revoked" });
    expect(server.all).toHaveLength(2);
    expect(calls()).toBe(2);
  });

  it("gets its retry again after a connection served a call", async () => {
    const { server, client } = setup();
    const a = (await Promise.all([client.connect(), server.accept()]))[1];
    a.drop(4401, "expired");
    const b = await server.accept();
    const result = client.call("f", 1);
    await b.expect(FrameType.AUTH);
    await b.expect(FrameType.REQUEST);
    b.push({ type: FrameType.RESPONSE, id: 1, data: 1, leading: null, trailing: null });
    expect(await result).toBe(1);
    b.drop(4401, "expired again");
    const c = await server.accept();
    expect(await c.expect(FrameType.AUTH)).toMatchObject({ credentials: { token: "t3" } });
  });

  it("fails the attempt with UNAUTHENTICATED when auth throws, without a socket", async () => {
    const { server, client } = setup({
      auth: () => {
        throw new Error("the refresh token is gone");
      },
    });
    const error = await rejection(client.call("f", 1));
    expect(error).toMatchObject({ code: Code.UNAUTHENTICATED, message: "the refresh token is gone" });
    expect(server.all).toHaveLength(0);
  });

  it("reauthenticate() sends AUTH on the live connection; open calls go on", async () => {
    const { server, client } = setup();
    const call = client.open("wait", 1);
    const socket = await server.accept();
    await socket.expect(FrameType.AUTH);
    await socket.expect(FrameType.REQUEST);
    await client.reauthenticate();
    expect(await socket.next()).toEqual({ type: FrameType.AUTH, id: 0, credentials: { token: "t2" } });
    socket.push({ type: FrameType.RESPONSE, id: 1, data: "done", leading: null, trailing: null });
    expect(await call.result()).toBe("done");
    expect(server.all).toHaveLength(1);
  });

  it("reauthenticate() needs an auth option", async () => {
    const client = new Client("ws://swill.test/ws", { WebSocket: new FakeServer().WebSocket });
    expect((await rejection(client.reauthenticate())).code).toBe(Code.FAILED_PRECONDITION);
  });

  it("without auth sends no AUTH", async () => {
    const server = new FakeServer();
    const client = new Client("ws://swill.test/ws", { WebSocket: server.WebSocket });
    clients.push(client);
    void client.call("f", 1).catch(() => undefined);
    const socket = await server.accept();
    expect(await socket.next()).toMatchObject({ type: FrameType.REQUEST });
  });
});
