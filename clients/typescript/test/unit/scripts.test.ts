// Replays tests/fixtures/client_scripts.json against the TypeScript client (format: the README
// there); the Python suite replays the same file (tests/client/test_scripts.py).
//
// The client runs over scripted sockets: no network, no real waits (backoff is 0; retries are the
// client's default, as the scripts say). `reconnect: false`: the Python client has no background
// reconnection after a lost connection (the TS client's, for its status events, dials before the
// next call would), and the scripts count connection attempts. After each step the replayer lets the client run until it has nothing left to
// do: a bounded number of rounds of zero-delay timers, each of which drains the microtasks.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import type { Call } from "../../src/call.js";
import { Client } from "../../src/client.js";
import type { WebSocketConstructor, WebSocketLike } from "../../src/connection.js";
import { SwillError } from "../../src/errors.js";
import { decodeValue, encodeValue } from "../../src/frames.js";

interface Script {
  readonly name: string;
  readonly client?: { readonly auth?: readonly unknown[]; readonly max_receive_size?: number };
  readonly steps: readonly Step[];
}

type Step = Readonly<Record<string, unknown>>;

const path = fileURLToPath(new URL("../../../../tests/fixtures/client_scripts.json", import.meta.url));
const scripts = (JSON.parse(readFileSync(path, "utf8")) as { scripts: Script[] }).scripts;

const IGNORED_SENT = new Set([7, 9]); // CREDIT and PING: flow control and keepalive are checked elsewhere
const SETTLE_ROUNDS = 30;

type Handler = ((event: never) => void) | null;

/** One connection attempt: a socket the script opens, refuses, closes and talks through. */
class ScriptedSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  readonly sent: unknown[][] = [];
  checked = 0;

  constructor(readonly url: string) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) {
      throw new Error("send() on a socket that is not open");
    }
    this.sent.push(decodeValue(data) as unknown[]);
  }

  close(code = 1005, reason = ""): void {
    if (this.readyState < 2) {
      this.readyState = 3;
      setTimeout(() => this.fire("onclose", { code, reason }), 0);
    }
  }

  fire(name: "onopen" | "onmessage" | "onclose" | "onerror", event: object): void {
    (this[name] as ((event: object) => void) | null)?.(event);
  }
}

interface Outcome {
  values: unknown[];
  result?: { value: unknown };
  error?: SwillError;
  ended: boolean;
  call?: Call<unknown, unknown>;
}

class Replayer {
  readonly attempts: ScriptedSocket[] = [];
  readonly connections: ScriptedSocket[] = [];
  readonly outcomes = new Map<string, Outcome>();
  readonly client: Client;
  authCalls = 0;
  where = "";

  constructor(readonly script: Script) {
    const replayer = this;
    const WebSocket: WebSocketConstructor = class extends ScriptedSocket {
      constructor(url: string) {
        super(url);
        replayer.attempts.push(this);
      }
    };
    const credentials = script.client?.auth;
    this.client = new Client("ws://scripted.test/ws", {
      WebSocket,
      reconnect: false,
      backoff: { initialDelayMs: 0, maxDelayMs: 0 },
      ...(script.client?.max_receive_size === undefined ? {} : { maxReceiveSize: script.client.max_receive_size }),
      ...(credentials === undefined ? {} : { auth: () => this.#auth(credentials) }),
    });
  }

  #auth(credentials: readonly unknown[]): unknown {
    const value = credentials[Math.min(this.authCalls, credentials.length - 1)];
    this.authCalls += 1;
    if (typeof value === "object" && value !== null && "$raise" in value) {
      throw new Error(String((value as { $raise: unknown }).$raise));
    }
    return value;
  }

  async run(): Promise<void> {
    try {
      for (const [index, step] of this.script.steps.entries()) {
        this.where = `step ${index}: ${JSON.stringify(step)}`;
        this.apply(step);
        await settle();
      }
    } finally {
      this.client.close();
    }
  }

  apply(step: Step): void {
    const kind = KINDS.find((key) => key in step);
    if (kind === undefined) {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
    this[kind](step);
  }

  connection(step: Step): ScriptedSocket {
    const index = step["connection"] as number | undefined;
    const socket = this.connections[index === undefined ? this.connections.length - 1 : index - 1];
    expect(socket, `${this.where}: no such connection`).toBeDefined();
    return socket as ScriptedSocket;
  }

  outcome(name: unknown): Outcome {
    const outcome: Outcome = { values: [], ended: false };
    this.outcomes.set(String(name), outcome);
    return outcome;
  }

  opened(name: unknown): [Outcome, Call<unknown, unknown>] {
    const outcome = this.outcomes.get(String(name));
    expect(outcome?.call, `${this.where}: ${String(name)} is not open`).toBeDefined();
    return [outcome as Outcome, outcome?.call as Call<unknown, unknown>];
  }

  // Application actions: started, not awaited.

  call(step: Step): void {
    void record(this.outcome(step["call"]), this.client.call(String(step["rpc"]), step["data"]));
  }

  open(step: Step): void {
    const outcome = this.outcome(step["open"]);
    outcome.call = this.client.open(String(step["rpc"]), ...("data" in step ? [step["data"]] : []));
  }

  stream(step: Step): void {
    void iterate(this.outcome(step["stream"]), this.client.stream(String(step["rpc"]), step["data"]));
  }

  subscribe(step: Step): void {
    const after = step["after"] as number | null;
    const events = async function* (client: Client): AsyncGenerator<unknown> {
      for await (const { id, value, missed, restarted } of client.subscribe(String(step["rpc"]), { after })) {
        yield { id, value, missed, restarted };
      }
    };
    void iterate(this.outcome(step["subscribe"]), events(this.client));
  }

  send(step: Step): void {
    this.opened(step["send"])[1].send(step["data"]).catch(() => undefined);
  }

  end(step: Step): void {
    this.opened(step["end"])[1].end().catch(() => undefined);
  }

  result(step: Step): void {
    const [outcome, call] = this.opened(step["result"]);
    void record(outcome, call.result());
  }

  iterate(step: Step): void {
    const [outcome, call] = this.opened(step["iterate"]);
    void iterate(outcome, call);
  }

  cancel(step: Step): void {
    this.opened(step["cancel"])[1].cancel();
  }

  reauthenticate(): void {
    this.client.reauthenticate().catch(() => undefined);
  }

  // Socket events and frames in.

  socket(step: Step): void {
    const event = step["socket"];
    if (event === "close") {
      const socket = this.connection(step);
      socket.readyState = 3;
      socket.fire("onclose", { code: step["code"], reason: step["reason"] ?? "" });
      return;
    }
    const pending = this.attempts.find((socket) => socket.readyState === 0);
    expect(pending, `${this.where}: no connection attempt is waiting`).toBeDefined();
    const socket = pending as ScriptedSocket;
    if (event === "open") {
      socket.readyState = 1;
      this.connections.push(socket);
      socket.fire("onopen", {});
    } else {
      expect(event).toBe("refuse");
      socket.readyState = 3;
      socket.fire("onerror", {});
      socket.fire("onclose", { code: 1006, reason: step["reason"] ?? "" });
    }
  }

  receive(step: Step): void {
    const bytes = encodeValue(step["receive"]);
    this.connection(step).fire("onmessage", { data: bytes.slice().buffer });
  }

  // Expectations.

  expect_connections(step: Step): void {
    expect(this.attempts.length, this.where).toBe(step["expect_connections"]);
    for (const socket of this.attempts) {
      expect(socket.url).toBe("ws://scripted.test/ws"); // never a token in the URL
    }
  }

  expect_auth_calls(step: Step): void {
    expect(this.authCalls, this.where).toBe(step["expect_auth_calls"]);
  }

  expect_sent(step: Step): void {
    const socket = this.connection(step);
    const sent = socket.sent.slice(socket.checked).filter((frame) => !IGNORED_SENT.has(frame[0] as number));
    socket.checked = socket.sent.length;
    const expected = step["expect_sent"] as unknown[][];
    const ok = sent.length === expected.length && expected.every((frame, i) => frameMatches(frame, sent[i] as unknown[]));
    expect(ok, `${this.where}: sent ${JSON.stringify(sent)}`).toBe(true);
  }

  expect(step: Step): void {
    const outcome = this.outcomes.get(String(step["expect"]));
    const where = `${this.where}: ${JSON.stringify(outcome, (_, v: unknown) => (v instanceof SwillError ? `${v}` : v))}`;
    expect(outcome, where).toBeDefined();
    const seen = outcome as Outcome;
    if ("result" in step) {
      expect(seen.result, where).toEqual({ value: step["result"] });
    }
    for (const key of ["values", "events"]) {
      if (key in step) {
        expect(seen.values, where).toEqual(step[key]);
      }
    }
    if ("error" in step) {
      const { code, message_includes: includes = "", message } = step["error"] as {
        code: string;
        message_includes?: string;
        message?: string;
      };
      expect(seen.error?.code, where).toBe(code);
      expect(seen.error?.message, where).toContain(includes);
      if (message !== undefined) {
        expect(seen.error?.message, where).toBe(message);
      }
    }
    if ("ended" in step) {
      expect(seen.ended, where).toBe(step["ended"]);
    }
    if ("pending" in step) {
      const pending = seen.result === undefined && seen.error === undefined && !seen.ended;
      expect(pending, where).toBe(step["pending"]);
    }
  }
}

// A step is told by its first key in this order (an "expect" step also has "result", ...).
const KINDS = [
  "expect",
  "expect_sent",
  "expect_connections",
  "expect_auth_calls",
  "call",
  "open",
  "stream",
  "subscribe",
  "send",
  "end",
  "result",
  "iterate",
  "cancel",
  "reauthenticate",
  "socket",
  "receive",
] as const;

async function record(outcome: Outcome, pending: Promise<unknown>): Promise<void> {
  try {
    outcome.result = { value: await pending };
  } catch (error) {
    outcome.error = SwillError.from(error);
  }
}

async function iterate(outcome: Outcome, iterable: AsyncIterable<unknown>): Promise<void> {
  try {
    for await (const value of iterable) {
      outcome.values.push(value);
    }
    outcome.ended = true;
  } catch (error) {
    outcome.error = SwillError.from(error);
  }
}

async function settle(): Promise<void> {
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** `expected` (from a script) matches a sent frame, after the README's normalisation. */
export function frameMatches(expected: unknown[], actual: unknown[]): boolean {
  return matches(expected, normalized(actual));
}

function normalized(frame: unknown[]): unknown[] {
  const out = [...frame];
  if (out[0] === 0) {
    while (out.length < 5) {
      out.push(null); // REQUEST: absent metadata and options are nil; data stays as sent
    }
    return out;
  }
  while (out.length > 0 && out[out.length - 1] === null) {
    out.pop();
  }
  return out;
}

function isAny(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { $any?: unknown }).$any === true;
}

function matches(expected: unknown, actual: unknown): boolean {
  if (isAny(expected)) {
    return true;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length > expected.length) {
      return false;
    }
    return expected.every((item, i) => (i >= actual.length ? isAny(item) : matches(item, actual[i])));
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) {
      return false;
    }
    const keys = Object.keys(expected);
    const record = expected as Record<string, unknown>;
    const other = actual as Record<string, unknown>;
    return (
      keys.length === Object.keys(other).length &&
      keys.every((key) => key in other && matches(record[key], other[key]))
    );
  }
  return expected === actual;
}


describe("shared client scripts", () => {
  it("cover every decision of docs/client-behaviour.md", () => {
    const decisions = new Set(scripts.map((script) => (script as { decision?: string }).decision));
    expect([...decisions].sort()).toEqual([
      "auth",
      "close-codes",
      "goaway",
      "lost-connection",
      "receive-limit",
      "result",
      "resume",
    ]);
  });

  it.each(scripts.map((script) => [script.name, script] as const))("%s", async (_, script) => {
    await new Replayer(script).run();
  });

  it("match frames as the README says", () => {
    const any = { $any: true };
    expect(frameMatches([4, 1, any], [4, 1])).toBe(true);
    expect(frameMatches([4, 1, any], [4, 1, "why"])).toBe(true);
    expect(frameMatches([0, 1, "f", null, any], [0, 1, "f"])).toBe(true);
    expect(frameMatches([0, 1, "f", null, any], [0, 1, "f", null, null, null])).toBe(false);
    expect(frameMatches([0, 1, "f", null, any, null], [0, 1, "f", null, { window: 8 }, null])).toBe(true);
    expect(frameMatches([3, 1], [3, 1, null])).toBe(true);
    expect(frameMatches([1, 1, 1], [1, 1, true])).toBe(false);
    expect(frameMatches([1, 1, { a: 1 }], [1, 1, { a: 1, b: 2 }])).toBe(false);
  });
});
