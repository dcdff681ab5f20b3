// Resumable subscriptions against real servers: a uvicorn process killed and restarted on the
// same port mid-subscription (topics on a real redis-server, so ids survive it), and GOAWAY from
// the app's drain.
import { afterEach, expect, it } from "vitest";
import { WebSocket } from "ws";

import { Client, type SubscriptionEvent } from "../../src/index.js";
import { type TestServer, freePort, startRedis, startServer, swillRun } from "../helpers/server.js";
import { once } from "../helpers/wait.js";

const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) {
    await step();
  }
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(options);
  cleanup.push(() => server.stop());
  return server;
}

function connect(url: string): Client {
  const client = new Client(url, { WebSocket, retries: 100, backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
  cleanup.push(() => client.close());
  return client;
}

async function publish(client: Client, topic: string, values: number[]): Promise<number[]> {
  const ids: number[] = [];
  for (const value of values) {
    ids.push(await client.call<number>("publish", [topic, value]));
  }
  return ids;
}

async function take<T>(events: AsyncIterator<SubscriptionEvent<T>>, n: number): Promise<SubscriptionEvent<T>[]> {
  const out: SubscriptionEvent<T>[] = [];
  while (out.length < n) {
    const next = await events.next();
    if (next.done === true) {
      throw new Error(`the subscription ended after ${out.length} events`);
    }
    out.push(next.value);
  }
  return out;
}

// The subscriber's server is killed (SIGKILL: no GOAWAY, no close frame) while another process,
// on the same Redis, goes on publishing; then it comes back on the same port.
async function restartMidSubscription(topic: string): Promise<SubscriptionEvent<number>[]> {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const first = await serve({ broker: redis.url });
  const publisher = await serve({ broker: redis.url });
  const pub = connect(publisher.url);
  const sub = connect(first.url);
  expect(await publish(pub, topic, [10, 11, 12])).toEqual([1, 2, 3]);
  const events = sub.subscribe<number>(topic, { after: 0 })[Symbol.asyncIterator]();
  const seen = await take(events, topic === "ticks.fifo" ? 3 : 1);
  const later = take(events, topic === "ticks.fifo" ? 3 : 1);
  const lost = once(sub, "close");
  await first.stop("SIGKILL");
  await lost;
  expect(await publish(pub, topic, [13, 14, 15])).toEqual([4, 5, 6]);
  await serve({ broker: redis.url, port: first.port });
  return [...seen, ...(await later)];
}

it("resumes a fifo topic with history after the server restarts: nothing lost, nothing twice", async () => {
  const events = await restartMidSubscription("ticks.fifo");
  expect(events.map((e) => [e.id, e.value, e.missed, e.restarted])).toEqual([
    [1, 10, 0, false],
    [2, 11, 0, false],
    [3, 12, 0, false],
    [4, 13, 0, false],
    [5, 14, 0, false],
    [6, 15, 0, false],
  ]);
}, 60_000);

it("resumes a latest topic after the server restarts, telling what it missed", async () => {
  const events = await restartMidSubscription("ticks.latest");
  // Subscribed after 0 to a replayed topic: the newest value (3); after the restart the newest
  // again (6), with the two in between missed.
  expect(events.map((e) => [e.id, e.value, e.missed, e.restarted])).toEqual([
    [3, 12, 2, false],
    [6, 15, 2, false],
  ]);
}, 60_000);

it("resumes on a new connection after GOAWAY from the app's drain: nothing lost, nothing twice", async () => {
  const server = await serve();
  const client = connect(server.url);
  let opened = 0;
  client.on("open", () => (opened += 1));
  const events = client.subscribe<number>("ticks.fifo")[Symbol.asyncIterator]();
  // A new subscriber sees only what is published once it is subscribed: publish -1 until it has.
  const first = events.next();
  let head: IteratorResult<SubscriptionEvent<number>> | undefined;
  void first.then((next) => (head = next));
  for (let i = 0; i < 200 && head === undefined; i++) {
    await publish(client, "ticks.fifo", [-1]);
  }
  const start = (head as IteratorResult<SubscriptionEvent<number>>).value as SubscriptionEvent<number>;
  const rest = (async () => {
    const out: SubscriptionEvent<number>[] = [];
    for (let next = await events.next(); next.done !== true; next = await events.next()) {
      out.push(next.value);
      if (next.value.value === 3) {
        return out;
      }
    }
    return out;
  })();
  const goaway = once(client, "goaway");
  await client.call("goaway", 2.0);
  await goaway;
  await publish(client, "ticks.fifo", [2, 3]);
  const after = await rest;
  expect(after.map((e) => e.id)).toEqual(after.map((_, i) => start.id + 1 + i)); // every id, once
  expect(after.every((e) => e.missed === 0 && !e.restarted)).toBe(true);
  expect(after.slice(-2).map((e) => e.value)).toEqual([2, 3]);
  expect(opened).toBe(2);
}, 60_000);

it("resumes on the server that replaces one drained by `swill run` on SIGTERM: nothing lost", async () => {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const port = await freePort();
  const first = await swillRun(port, redis.url);
  cleanup.push(async () => {
    first.kill("SIGKILL");
    await first.exited;
  });
  const publisher = await serve({ broker: redis.url });
  const pub = connect(publisher.url);
  const sub = connect(first.url);
  expect(await publish(pub, "ticks.fifo", [1, 2, 3])).toEqual([1, 2, 3]);
  const events = sub.subscribe<number>("ticks.fifo", { after: 0 })[Symbol.asyncIterator]();
  const seen = await take(events, 3);
  const later = take(events, 3);
  const goaway = once(sub, "goaway");
  first.kill("SIGTERM"); // GOAWAY, then the drain ends the stream with UNAVAILABLE
  expect((await goaway).reason).toBeTruthy();
  await first.exited;
  expect(await publish(pub, "ticks.fifo", [4, 5, 6])).toEqual([4, 5, 6]);
  const second = await swillRun(port, redis.url);
  cleanup.push(async () => {
    second.kill("SIGKILL");
    await second.exited;
  });
  const all = [...seen, ...(await later)];
  expect(all.map((e) => [e.id, e.value, e.missed, e.restarted])).toEqual(
    [1, 2, 3, 4, 5, 6].map((id) => [id, id, 0, false]),
  );
}, 60_000);
