// Credentials against a real server that checks them (test/server/auth_app.py): re-AUTH before
// a token expires, and a 4401 whose refresh works and one whose refresh does not.
import { afterEach, expect, it } from "vitest";
import { WebSocket } from "ws";

import { Client, type ClientOptions, Code, type SubscriptionEvent } from "../../src/index.js";
import { type TestServer, startServer } from "../helpers/server.js";
import { once, rejection } from "../helpers/wait.js";

const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) {
    await step();
  }
});

async function serve(): Promise<TestServer> {
  const server = await startServer({ auth: true });
  cleanup.push(() => server.stop());
  return server;
}

/** A client whose `auth()` hands out `tokens` in turn (the last one again after the end). */
function connect(url: string, tokens: string[], expiresIn: number, options: ClientOptions = {}): [Client, () => number] {
  let calls = 0;
  const auth = async (): Promise<unknown> => {
    const token = tokens[Math.min(calls, tokens.length - 1)];
    calls += 1;
    return { token, expires_in: expiresIn };
  };
  const client = new Client(url, { WebSocket, auth, backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  cleanup.push(() => client.close());
  return [client, () => calls];
}

interface Who {
  readonly token: string;
  readonly auths: number;
}

it("re-AUTHs before the token expires: calls and a subscription go on, nothing dropped", async () => {
  const server = await serve();
  const [client, authCalls] = connect(server.url, ["good-1", "good-2", "good-3", "good-4", "good-5", "good-6"], 1.5);
  const seen: string[] = [];
  client.on("close", (e) => seen.push(`close ${e.code}`));
  const events = client.subscribe<number>("ticks", { after: 0 })[Symbol.asyncIterator]();
  const received: SubscriptionEvent<number>[] = [];
  // Published and read for longer than the token lives (1.5 s), re-authenticating on the way.
  for (let i = 1; i <= 12; i++) {
    expect(await client.call("publish", i)).toBe(i);
    const next = await events.next();
    received.push(next.value as SubscriptionEvent<number>);
    expect(await client.call("wait", 0.2)).toBe("done");
    if (i % 3 === 0) {
      await client.reauthenticate();
    }
  }
  expect(received.map((e) => [e.id, e.value, e.missed, e.restarted])).toEqual(
    Array.from({ length: 12 }, (_, i) => [i + 1, i + 1, 0, false]),
  );
  const who = await client.call<Who>("whoami");
  expect(who).toEqual({ token: "good-5", auths: 5 });
  expect(authCalls()).toBe(5);
  expect(seen).toEqual([]); // one connection all along
  await events.return?.();
}, 30_000);

it("after a 4401 (token expired) refreshes once, reconnects and resumes the subscription", async () => {
  const server = await serve();
  const [client, authCalls] = connect(server.url, ["good-old", "good-new"], 0.5);
  const events = client.subscribe<number>("ticks", { after: 0 })[Symbol.asyncIterator]();
  expect(await client.call("publish", 1)).toBe(1);
  expect((await events.next()).value).toMatchObject({ id: 1, value: 1 });
  const expired = once(client, "close");
  const next = events.next();
  expect(await expired).toEqual({ code: 4401, reason: "token expired" });
  // Published while the subscriber was away: it comes from the topic's history.
  const publisher = new Client(server.url, { WebSocket, auth: () => ({ token: "good-publisher", expires_in: 60 }) });
  cleanup.push(() => publisher.close());
  expect(await publisher.call("publish", 2)).toBe(2);
  expect((await next).value).toEqual({ id: 2, value: 2, missed: 0, restarted: false });
  expect(await client.call<Who>("whoami")).toMatchObject({ token: "good-new" });
  expect(authCalls()).toBe(2);
  await events.return?.();
}, 30_000);

it("after a 4401 whose refresh is refused too, stops: calls and the subscription fail UNAUTHENTICATED", async () => {
  const server = await serve();
  const [client, authCalls] = connect(server.url, ["good-old", "revoked"], 0.5);
  const subscription = (async () => {
    for await (const event of client.subscribe<number>("ticks", { after: 0 })) {
      void event;
    }
  })();
  expect(await client.call<Who>("whoami")).toMatchObject({ token: "good-old" });
  const error = await rejection(subscription);
  expect(error).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token refused: revoked" });
  const later = await rejection(client.call("whoami"));
  expect(later).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token refused: revoked" });
  expect(authCalls()).toBe(2);
}, 30_000);

it("a first AUTH refused: the call it held fails UNAUTHENTICATED, one refresh, the next call runs", async () => {
  const server = await serve();
  const [client, authCalls] = connect(server.url, ["stale", "good-fresh"], 60);
  // The first AUTH is refused: one refresh, and the call after it runs on fresh credentials.
  const first = await rejection(client.call("whoami"));
  expect(first).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token refused: stale" });
  expect(await client.call<Who>("whoami")).toEqual({ token: "good-fresh", auths: 1 });
  expect(authCalls()).toBe(2);
}, 30_000);
