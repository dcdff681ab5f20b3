// Resumable streams: the pure decisions, the loop over a scripted link, and the client end to end.
import { afterEach, describe, expect, it } from "vitest";

import type { Call } from "../../src/call.js";
import { Client, type ClientOptions } from "../../src/client.js";
import { Code, SwillError } from "../../src/errors.js";
import { FrameType } from "../../src/frames.js";
import { type ResumeLink, type SubscriptionEvent, gap, resumes, subscription } from "../../src/subscribe.js";
import { FakeServer } from "../helpers/fake-socket.js";
import { rejection } from "../helpers/wait.js";

describe("gap", () => {
  it.each([
    [null, 7, 0, false],
    [4, 5, 0, false],
    [4, 8, 3, false],
    [4, 4, 0, true],
    [4, 1, 0, true],
    [0, 1, 0, false],
    [0, 3, 2, false],
  ])("after %s, id %i: missed %i, restarted %s", (last, id, missed, restarted) => {
    expect(gap(last, id)).toEqual({ missed, restarted });
  });
});

describe("resumes", () => {
  it("after UNAVAILABLE, and what the client vouches for", () => {
    expect(resumes(new SwillError(Code.UNAVAILABLE, "lost"))).toBe(true);
    const expired = new SwillError(Code.UNAUTHENTICATED, "expired");
    expect(resumes(expired)).toBe(false);
    expect(resumes(expired, (e) => e === expired)).toBe(true);
    for (const code of [Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED, Code.NOT_FOUND, Code.CANCELLED]) {
      expect(resumes(new SwillError(code))).toBe(false);
    }
    expect(resumes(new Error("not a SwillError"))).toBe(false);
  });
});

// A link whose streams are scripted: each is a list of messages, then an error or the end.
function scripted(streams: (readonly unknown[])[]): { link: ResumeLink; afters: (number | null)[]; delays: number[] } {
  const afters: (number | null)[] = [];
  const delays: number[] = [];
  const link: ResumeLink = {
    stream: (_rpc, after) => {
      afters.push(after);
      const script = streams.shift() ?? [new SwillError(Code.INTERNAL, "no more streams")];
      return (async function* () {
        for (const item of script) {
          if (item instanceof SwillError) {
            throw item;
          }
          yield item;
        }
      })() as unknown as Call<unknown, never>;
    },
    cured: () => false,
    delayMs: (attempt) => {
      delays.push(attempt);
      return 0;
    },
  };
  return { link, afters, delays };
}

async function collect(iterable: AsyncIterable<SubscriptionEvent>): Promise<[SubscriptionEvent[], unknown]> {
  const events: SubscriptionEvent[] = [];
  try {
    for await (const event of iterable) {
      events.push(event);
    }
  } catch (error) {
    return [events, error];
  }
  return [events, undefined];
}

const lost = (): SwillError => new SwillError(Code.UNAVAILABLE, "lost");

describe("subscription", () => {
  it("re-opens after UNAVAILABLE with the last id delivered, and reports gaps", async () => {
    const { link, afters } = scripted([
      [{ id: 1, value: "a" }, { id: 2, value: "b" }, lost()],
      [{ id: 5, value: "e" }, lost()],
      [{ id: 1, value: "again" }],
    ]);
    const [events, error] = await collect(subscription(link, "temp", {}));
    expect(error).toBeUndefined();
    expect(afters).toEqual([null, 2, 5]);
    expect(events).toEqual([
      { id: 1, value: "a", missed: 0, restarted: false },
      { id: 2, value: "b", missed: 0, restarted: false },
      { id: 5, value: "e", missed: 2, restarted: false },
      { id: 1, value: "again", missed: 0, restarted: true },
    ]);
  });

  it("compares the first event with `after`", async () => {
    const { link, afters } = scripted([[{ id: 13, value: 1 }]]);
    const [events] = await collect(subscription(link, "temp", { after: 10 }));
    expect(afters).toEqual([10]);
    expect(events).toEqual([{ id: 13, value: 1, missed: 2, restarted: false }]);
  });

  it("ends with any other error, without re-opening", async () => {
    const denied = new SwillError(Code.PERMISSION_DENIED, "no");
    const { link, afters } = scripted([[{ id: 1, value: 1 }, denied]]);
    const [events, error] = await collect(subscription(link, "temp", {}));
    expect(events).toHaveLength(1);
    expect(error).toBe(denied);
    expect(afters).toEqual([null]);
  });

  it("backs off by attempt, and counts again from 1 once an event was delivered", async () => {
    const { link, delays } = scripted([[lost()], [lost()], [lost()], [{ id: 1, value: 1 }, lost()], [lost()], []]);
    await collect(subscription(link, "temp", {}));
    expect(delays).toEqual([1, 2, 3, 1, 2]);
  });

  it("resumes after an error the client says its auth retry cured", async () => {
    const expired = new SwillError(Code.UNAUTHENTICATED, "expired");
    const { link, afters } = scripted([[{ id: 1, value: 1 }, expired], []]);
    const [, error] = await collect(subscription({ ...link, cured: (e) => e === expired }, "temp", {}));
    expect(error).toBeUndefined();
    expect(afters).toEqual([null, 1]);
  });

  it("refuses a message that is not {id, value}", async () => {
    const { link } = scripted([[42]]);
    const [, error] = await collect(subscription(link, "temp", {}));
    expect(error).toMatchObject({ code: Code.INTERNAL });
  });

  it("opens nothing for a signal aborted before it starts", async () => {
    const { link, afters } = scripted([[{ id: 1, value: 1 }]]);
    const [, error] = await collect(subscription(link, "temp", { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ code: Code.CANCELLED });
    expect(afters).toEqual([]);
  });

  it("stops waiting between attempts when the signal aborts", async () => {
    const controller = new AbortController();
    const { link } = scripted([[lost()]]);
    const slow: ResumeLink = { ...link, delayMs: () => 60_000 };
    const pending = collect(subscription(slow, "temp", { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 0));
    controller.abort();
    const [, error] = await pending;
    expect(error).toMatchObject({ code: Code.CANCELLED });
  });
});

describe("Client.subscribe", () => {
  const clients: Client[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) {
      client.close();
    }
  });

  function setup(options: ClientOptions = {}): { server: FakeServer; client: Client } {
    const server = new FakeServer();
    const client = new Client("ws://swill.test/ws", { WebSocket: server.WebSocket, backoff: { initialDelayMs: 1 }, ...options });
    clients.push(client);
    return { server, client };
  }

  it("re-opens on a new connection after a lost one, after the last id", async () => {
    const { server, client } = setup();
    const iterator = client.subscribe<string>("temp", { after: 3 })[Symbol.asyncIterator]();
    const head = iterator.next(); // nothing opens before the first event is asked for
    const first = await server.accept();
    expect(await first.expect(FrameType.REQUEST)).toMatchObject({ id: 1, rpc: "temp", data: 3, options: { window: 32 } });
    first.push({ type: FrameType.DATA, id: 1, data: { id: 4, value: "a" } });
    expect(await head).toEqual({ done: false, value: { id: 4, value: "a", missed: 0, restarted: false } });
    const next = iterator.next(); // a generator re-opens when it is asked for the next event
    first.drop(1006);
    const second = await server.accept();
    expect(await second.expect(FrameType.REQUEST)).toMatchObject({ id: 1, rpc: "temp", data: 4 });
    second.push({ type: FrameType.DATA, id: 1, data: { id: 9, value: "b" } });
    expect(await next).toEqual({ done: false, value: { id: 9, value: "b", missed: 4, restarted: false } });
    await iterator.return?.();
    expect(await second.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
  });

  it("re-opens on the same connection after ERROR UNAVAILABLE, and ends at END_OF_STREAM", async () => {
    const { server, client } = setup();
    const events = collect(client.subscribe("temp"));
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.push({ type: FrameType.DATA, id: 1, data: { id: 1, value: "a" } });
    socket.push({ type: FrameType.ERROR, id: 1, code: "UNAVAILABLE", message: "broker", data: null, metadata: null });
    expect(await socket.expect(FrameType.REQUEST)).toMatchObject({ id: 2, data: 1 });
    socket.push({ type: FrameType.END_OF_STREAM, id: 2, metadata: null });
    expect(await events).toEqual([[{ id: 1, value: "a", missed: 0, restarted: false }], undefined]);
    expect(server.all).toHaveLength(1);
  });

  it("ends with a refusal's error (4403), without re-opening", async () => {
    const { server, client } = setup();
    const events = collect(client.subscribe("temp"));
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    socket.drop(4403, "forbidden");
    const [, error] = await events;
    expect(error).toMatchObject({ code: Code.PERMISSION_DENIED, message: "forbidden" });
    expect(server.all).toHaveLength(1);
  });

  it("an aborted signal ends the iteration and cancels the stream", async () => {
    const { server, client } = setup();
    const controller = new AbortController();
    const events = collect(client.subscribe("temp", { signal: controller.signal }));
    const socket = await server.accept();
    await socket.expect(FrameType.REQUEST);
    controller.abort();
    expect((await events)[1]).toMatchObject({ code: Code.CANCELLED });
    expect(await socket.expect(FrameType.CLOSE)).toMatchObject({ id: 1 });
  });

  it("re-opens after a 4401 the auth retry cured, and ends after a second one", async () => {
    let n = 0;
    const { server, client } = setup({ auth: () => ({ token: `t${++n}` }) });
    const events = collect(client.subscribe("temp"));
    const first = await server.accept();
    expect(await first.expect(FrameType.AUTH)).toMatchObject({ credentials: { token: "t1" } });
    await first.expect(FrameType.REQUEST);
    first.push({ type: FrameType.DATA, id: 1, data: { id: 1, value: "a" } });
    first.drop(4401, "token expired");
    const second = await server.accept();
    expect(await second.expect(FrameType.AUTH)).toMatchObject({ credentials: { token: "t2" } });
    expect(await second.expect(FrameType.REQUEST)).toMatchObject({ data: 1 });
    second.drop(4401, "refresh token revoked");
    const [seen, error] = await events;
    expect(seen).toHaveLength(1);
    expect(error).toMatchObject({ code: Code.UNAUTHENTICATED, message: "refresh token revoked" });
    expect(await rejection(client.call("f", 1))).toMatchObject({ code: Code.UNAUTHENTICATED });
    expect(server.all).toHaveLength(2);
  });
});
