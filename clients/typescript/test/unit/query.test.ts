// The TanStack Query adapter with a real QueryClient, against the in-memory test server.
import {
  MutationObserver,
  QueryClient,
  type QueryKey,
  QueryObserver,
  type QueryObserverResult,
} from "@tanstack/query-core";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";

import type { Client } from "../../src/client.js";
import { Code, SwillError } from "../../src/errors.js";
import { type ClientFrame, FrameType } from "../../src/frames.js";
import {
  type LiveData,
  type LiveEvent,
  connectionStatus,
  createSwillQuery,
  fieldErrors,
  foldLive,
  hashQueryKey,
} from "../../src/query.js";
import { bidi, clientStream, createTestServer, serverStream, unary } from "../../src/testing.js";

type Rpcs = {
  "users.get": { kind: "unary"; request: { id: number }; response: { id: number; name: string } };
  "users.create": { kind: "unary"; request: { name: string; email: string }; response: number };
  flaky: { kind: "unary"; request: null; response: string };
  hang: { kind: "unary"; request: null; response: never };
  count: { kind: "server_stream"; request: number; response: number };
  upload: { kind: "client_stream"; request: Uint8Array; response: number };
  "chat.echo": { kind: "bidi"; request: string; response: string };
  telemetry: { kind: "server_stream"; request: number | null; response: { id: number; value: number } };
  gappy: { kind: "server_stream"; request: number | null; response: { id: number; value: number } };
};

let calls: Record<string, number>;
let frames: ClientFrame[];
let hangAborted: Promise<unknown>;
let flakyFailures: number;
let afters: (number | null)[];

function makeServer() {
  calls = {};
  frames = [];
  afters = [];
  flakyFailures = 2;
  const counted = <T>(name: string, value: T): T => {
    calls[name] = (calls[name] ?? 0) + 1;
    return value;
  };
  let onAbort!: (reason: unknown) => void;
  hangAborted = new Promise((resolve) => {
    onAbort = resolve;
  });
  const server = createTestServer<Rpcs>({
    "users.get": unary(({ id }) => counted("users.get", { id, name: `user ${id}` })),
    "users.create": unary(({ name, email }) => {
      counted("users.create", null);
      const problems = [];
      if (name === "") problems.push({ path: "$.name", message: "must not be empty" });
      if (!email.includes("@")) problems.push({ path: "$.email", message: "not an email address" });
      if (problems.length > 0) throw new SwillError(Code.INVALID_ARGUMENT, "invalid", { data: problems });
      return 7;
    }),
    flaky: unary(() => {
      counted("flaky", null);
      if (flakyFailures-- > 0) throw new SwillError(Code.UNAVAILABLE, "the broker is away");
      return "ok";
    }),
    hang: unary(
      (_request, context) =>
        new Promise<never>((_resolve, reject) => {
          context.signal.addEventListener("abort", () => {
            onAbort(context.signal.reason);
            reject(context.signal.reason);
          });
        }),
    ),
    count: serverStream(async function* (n) {
      for (let i = 0; i < n; i++) yield i;
    }),
    upload: clientStream(async (chunks) => {
      let size = 0;
      for await (const chunk of chunks) size += chunk.byteLength;
      return size;
    }),
    "chat.echo": bidi(async function* (lines) {
      for await (const line of lines) yield line.toUpperCase();
    }),
    // A resumable stream: ids from after + 1, one event per task, until cancelled.
    telemetry: serverStream(async function* (after, context) {
      afters.push(after);
      for (let id = (after ?? 0) + 1; !context.signal.aborted; id++) {
        yield { id, value: id * 10 };
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }),
    gappy: serverStream(async function* (_after, context) {
      yield { id: 1, value: 1 };
      yield { id: 5, value: 5 }; // 3 missed
      yield { id: 1, value: -1 }; // the ids began again
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
    }),
  });
  server.onFrame((frame) => frames.push(frame));
  return server;
}

let server: ReturnType<typeof makeServer>;
let client: Client;
let queryClient: QueryClient;

beforeEach(() => {
  server = makeServer();
  client = server.client({ backoff: { initialDelayMs: 1, maxDelayMs: 5 } });
  queryClient = new QueryClient({ defaultOptions: { queries: { retryDelay: 0 } } });
});

afterEach(() => {
  queryClient.clear();
  client.close();
});

/** The first result of `observer` that satisfies `done`. */
function until<T, K extends QueryKey>(observer: QueryObserver<T, SwillError, T, T, K>, done: (result: QueryObserverResult<T, SwillError>) => boolean) {
  return new Promise<QueryObserverResult<T, SwillError>>((resolve) => {
    const check = (result: QueryObserverResult<T, SwillError>): void => {
      if (done(result)) {
        stop();
        resolve(result);
      }
    };
    const stop = observer.subscribe(check);
    check(observer.getCurrentResult());
  });
}

describe("queries", () => {
  it("runs a unary rpc as a query, keyed by rpc and input", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const options = swill.queryOptions("users.get", { id: 1 });
    expect(options.queryKey).toEqual(["swill", "users", "get", { kind: "query", input: { id: 1 } }]);
    const user = await queryClient.fetchQuery(options);
    expectTypeOf(user).toEqualTypeOf<{ id: number; name: string }>();
    expect(user).toEqual({ id: 1, name: "user 1" });
    // Cached: the same key does not call again.
    expect(await queryClient.ensureQueryData(options)).toBe(user);
    expect(calls["users.get"]).toBe(1);
  });

  it("types error as SwillError, and does not retry a server's answer", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const failing = new QueryObserver(queryClient, swill.queryOptions("users.create", { name: "", email: "nope" }));
    expectTypeOf(failing.getCurrentResult().error).toEqualTypeOf<SwillError | null>();
    const stop = failing.subscribe(() => undefined);
    const result = await until(failing, (r) => r.status === "error");
    expect(result.error).toBeInstanceOf(SwillError);
    expect(result.error?.code).toBe(Code.INVALID_ARGUMENT);
    expect(fieldErrors(result.error)).toEqual({ name: "must not be empty", email: "not an email address" });
    expect(calls["users.create"]).toBe(1);
    stop();
  });

  it("retries UNAVAILABLE", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    expect(await queryClient.fetchQuery(swill.queryOptions("flaky", null))).toBe("ok");
    expect(calls["flaky"]).toBe(3);
  });

  it("sends CLOSE when the query is cancelled", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const options = swill.queryOptions("hang", null);
    const observer = new QueryObserver(queryClient, options);
    const stop = observer.subscribe(() => undefined);
    await expect.poll(() => server.openCalls).toBe(1);
    stop();
    await queryClient.cancelQueries({ queryKey: options.queryKey });
    expect(await hangAborted).toBeInstanceOf(SwillError);
    expect(frames.some((frame) => frame.type === FrameType.CLOSE)).toBe(true);
    expect(server.openCalls).toBe(0);
  });

  it("invalidates by namespace, rpc or input", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const one = new QueryObserver(queryClient, swill.queryOptions("users.get", { id: 1 }));
    const two = new QueryObserver(queryClient, swill.queryOptions("users.get", { id: 2 }));
    const stops = [one.subscribe(() => undefined), two.subscribe(() => undefined)];
    await until(one, (r) => r.isSuccess);
    await until(two, (r) => r.isSuccess);
    expect(calls["users.get"]).toBe(2);
    await queryClient.invalidateQueries({ queryKey: swill.key("users.get", { id: 1 }) });
    expect(calls["users.get"]).toBe(3);
    await queryClient.invalidateQueries({ queryKey: swill.key("users") });
    expect(calls["users.get"]).toBe(5);
    await queryClient.invalidateQueries({ queryKey: swill.key("count") });
    expect(calls["users.get"]).toBe(5);
    for (const stop of stops) stop();
  });

  it("starts every key with its scope", async () => {
    const billing = createSwillQuery<Rpcs>(client, { scope: "billing" });
    expect(billing.key()).toEqual(["billing"]);
    expect(billing.key("users.get", { id: 1 })).toEqual(["billing", "users", "get", { input: { id: 1 } }]);
    expect(billing.streamOptions("count", 2).queryKey).toEqual(["billing", "count", { kind: "stream", input: 2 }]);
    expect(billing.mutationOptions("users.create").mutationKey).toEqual(["billing", "users", "create"]);
  });

  it("hashes keys holding bigint, bytes, dates and maps", () => {
    const hash = hashQueryKey(["swill", { input: { n: 2n ** 60n, b: new Uint8Array([1]), d: new Date(0), m: new Map([[1, "a"]]) } }]);
    expect(hash).toBe(
      '["swill",{"input":{"b":{"$bin":[1]},"d":{"$date":0},"m":{"$map":[[1,"a"]]},"n":{"$bigint":"1152921504606846976"}}}]',
    );
    expect(hashQueryKey([{ b: 1, a: 2 }])).toBe(hashQueryKey([{ a: 2, b: 1 }]));
  });
});

describe("fieldErrors", () => {
  it("maps {path, message} problems to fields, whatever the code", () => {
    const problems = [
      { path: "$.items[2].qty", message: "too many" },
      { path: "$", message: "empty order" },
      { path: "$.items[2].qty", message: "a second problem at the same field is not shown" },
      { message: "no path" },
    ];
    expect(fieldErrors(new SwillError(Code.INVALID_ARGUMENT, "invalid", { data: problems }))).toEqual({
      "items[2].qty": "too many",
      "": "empty order",
    });
    expect(fieldErrors(new SwillError(Code.ALREADY_EXISTS, "taken", { data: [{ path: "$.email", message: "taken" }] }))).toEqual({
      email: "taken",
    });
    expect(fieldErrors(new SwillError(Code.NOT_FOUND, "gone", { data: { path: "$.id" } }))).toEqual({});
    expect(fieldErrors(new Error("not a SwillError"))).toEqual({});
    expect(fieldErrors(null)).toEqual({});
  });
});

describe("mutations", () => {
  it("calls a unary rpc, with validation errors by field and no retry", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const observer = new MutationObserver(queryClient, swill.mutationOptions("users.create"));
    expect(await observer.mutate({ name: "Ada", email: "ada@example.com" })).toBe(7);
    await expect(observer.mutate({ name: "", email: "ada" })).rejects.toBeInstanceOf(SwillError);
    const { error } = observer.getCurrentResult();
    expectTypeOf(error).toEqualTypeOf<SwillError | null>();
    expect(fieldErrors(error)).toEqual({ name: "must not be empty", email: "not an email address" });
    expect(calls["users.create"]).toBe(2);
  });
});

describe("streams", () => {
  it("accumulates a server stream, or keeps the last N", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    expect(await queryClient.fetchQuery(swill.streamOptions("count", 4))).toEqual([0, 1, 2, 3]);
    expect(await queryClient.fetchQuery(swill.streamOptions("count", 5, { limit: 2 }))).toEqual([3, 4]);
  });

  it("replaces the data with each message", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const options = swill.streamOptions("count", 3, { mode: "replace" });
    expectTypeOf(await queryClient.fetchQuery(options)).toEqualTypeOf<number | null>();
    expect(queryClient.getQueryData(options.queryKey)).toBe(2);
  });

  it("shows each message as it comes", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const observer = new QueryObserver(queryClient, swill.streamOptions("count", 3));
    const seen: number[][] = [];
    const stop = observer.subscribe((result) => {
      if (result.data !== undefined && seen.at(-1) !== result.data) seen.push(result.data);
    });
    await until(observer, (r) => r.fetchStatus === "idle" && r.isSuccess);
    stop();
    expect(seen.at(-1)).toEqual([0, 1, 2]);
    expect(seen.length).toBeGreaterThan(1);
  });
});

describe("streaming calls", () => {
  it("uploads in chunks with progress, and ends with the response", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const upload = swill.streamingCall("upload");
    const progress: number[] = [];
    upload.subscribe(() => progress.push(upload.getSnapshot().sent));
    for (let i = 0; i < 20; i++) await upload.send(new Uint8Array(10));
    expect(upload.getSnapshot().status).toBe("open");
    expect(await upload.end()).toBe(200);
    expect(upload.getSnapshot()).toMatchObject({ status: "success", sent: 20, response: 200, error: null });
    expect(progress).toContain(10);
  });

  it("cancels: CLOSE goes out and the snapshot says CANCELLED", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const upload = swill.streamingCall("upload");
    await upload.send(new Uint8Array(1));
    upload.cancel("the user cancelled");
    await expect.poll(() => upload.getSnapshot().status).toBe("error");
    expect(upload.getSnapshot().error?.code).toBe(Code.CANCELLED);
    await expect.poll(() => frames.some((frame) => frame.type === FrameType.CLOSE)).toBe(true);
    // A loop sending more stops here: the call is over. reset() (or start()) begins a new one.
    await expect(upload.send(new Uint8Array(1))).rejects.toMatchObject({ code: Code.CANCELLED });
    upload.reset();
    expect(upload.getSnapshot().status).toBe("idle");
    await upload.send(new Uint8Array(3));
    expect(await upload.end()).toBe(3);
  });

  it("collects a bidi call's messages", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const chat = swill.streamingCall("chat.echo");
    await chat.send("a");
    await chat.send("b");
    await expect.poll(() => chat.getSnapshot().messages).toEqual(["A", "B"]);
    expect(await chat.end()).toBe("B");
  });
});

describe("live queries", () => {
  it("fold events: the latest value, the last N, missed and restarts summed", () => {
    const event = (id: number, value: number, missed = 0, restarted = false): LiveEvent<number> => ({ id, value, missed, restarted });
    let data: LiveData<number> | undefined;
    for (const e of [event(1, 10), event(4, 40, 2), event(5, 50), event(1, 1, 0, true)]) data = foldLive(data, e, 3);
    expect(data).toMatchObject({ value: 1, values: [40, 50, 1], id: 1, missed: 2, restarts: 1 });
  });

  it("keeps the latest values, resumes after a lost connection and after a remount", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const options = swill.liveOptions("telemetry", { keep: 2 });
    const observer = new QueryObserver(queryClient, options);
    const stop = observer.subscribe(() => undefined);
    const first = await until(observer, (r) => (r.data?.id ?? 0) >= 3);
    expectTypeOf(first.data).toEqualTypeOf<LiveData<number> | undefined>();
    expect(first.data?.values).toEqual([(first.data?.id ?? 0) * 10 - 10, (first.data?.id ?? 0) * 10]);
    expect(first.fetchStatus).toBe("fetching");

    // A lost connection: subscribe() resumes after the last id by itself, nothing missed.
    const seen = first.data?.id ?? 0;
    server.disconnect();
    const resumed = await until(observer, (r) => (r.data?.id ?? 0) >= seen + 3);
    expect(resumed.data).toMatchObject({ missed: 0, restarts: 0 });
    expect(afters.slice(0, 2)).toEqual([null, expect.any(Number)]);

    // Unmounted, then mounted again: it subscribes again after the id the cache holds.
    stop();
    await queryClient.cancelQueries({ queryKey: options.queryKey });
    const held = queryClient.getQueryData(options.queryKey)?.id ?? 0;
    const again = observer.subscribe(() => undefined);
    await until(observer, (r) => (r.data?.id ?? 0) > held);
    again();
    expect(afters.at(-1)).toBe(held);
  });

  it("counts what the server skipped, and restarted ids", async () => {
    const swill = createSwillQuery<Rpcs>(client);
    const options = swill.liveOptions("gappy");
    const observer = new QueryObserver(queryClient, options);
    const stop = observer.subscribe(() => undefined);
    const result = await until(observer, (r) => r.data?.restarts === 1);
    expect(result.data).toMatchObject({ missed: 3, value: -1, id: 1 });
    stop();
  });
});

describe("connection status", () => {
  it("follows the connection: connected, reconnecting, refused with the reason", async () => {
    const store = connectionStatus(client);
    const states: string[] = [];
    const stop = store.subscribe(() => states.push(store.getSnapshot().state));
    expect(store.getSnapshot()).toBe(store.getSnapshot());
    await client.connect();
    expect(store.getSnapshot().state).toBe("connected");
    server.disconnect();
    await expect.poll(() => states).toContain("reconnecting");
    await expect.poll(() => store.getSnapshot().state).toBe("connected");
    server.refuse(4403, "origin not allowed");
    server.disconnect(1012);
    await expect.poll(() => store.getSnapshot().state).toBe("refused");
    const snapshot = store.getSnapshot();
    expect(snapshot.state === "refused" && [snapshot.error.code, snapshot.error.message]).toEqual([
      Code.PERMISSION_DENIED,
      "origin not allowed",
    ]);
    stop();
  });

  it("is offline once a background reconnect gives up", async () => {
    const fragile = server.client({ retries: 1, backoff: { initialDelayMs: 1, maxDelayMs: 2 } });
    const store = connectionStatus(fragile);
    const stop = store.subscribe(() => undefined);
    await fragile.connect();
    server.refuse(1011, "the server is down"); // not a refusal: dials fail with UNAVAILABLE
    server.disconnect();
    await expect.poll(() => store.getSnapshot().state).toBe("offline");
    const snapshot = store.getSnapshot();
    expect(snapshot.state === "offline" && snapshot.error.code).toBe(Code.UNAVAILABLE);
    stop();
    fragile.close();
  });

  it("is refused on the very first connection too", async () => {
    server.refuse(4401, "no token");
    const store = connectionStatus(client);
    const stop = store.subscribe(() => undefined);
    await expect(client.connect()).rejects.toBeInstanceOf(SwillError);
    const snapshot = store.getSnapshot();
    expect(snapshot.state === "refused" && snapshot.error.message).toBe("no token");
    stop();
  });
});
