/**
 * A client-streaming or bidirectional call as a store a form can drive, the way a mutation is:
 * `send()` each message, `end()`, watch `sent`, the responses and the outcome in a snapshot.
 *
 * Rules this module keeps:
 *
 * 1. The call opens on the first `send()` (or `start()`). Once it is over (done, failed or
 *    cancelled), `send()` fails with its outcome, so a loop sending a file stops there; `start()`
 *    or `reset()` then begins a new call and the snapshot starts again.
 * 2. Responses are read as they come (which grants the server credit): a bidi call's messages
 *    pile up in `messages`, a client stream's single response is `response` (also the last of
 *    `messages`).
 * 3. `sent` counts messages written, which waits for the server's credit: a progress bar fed by
 *    it follows what the server has taken, not what the browser has queued.
 */

import type { Call, CallOptions } from "./call.js";
import type { Client } from "./client.js";
import { SwillError } from "./errors.js";

/** Where a streaming call stands. */
export type StreamingStatus = "idle" | "open" | "ending" | "success" | "error";

/** What a component renders of a {@link StreamingCall}. */
export interface StreamingCallSnapshot<Res> {
  readonly status: StreamingStatus;
  /** Messages written so far. */
  readonly sent: number;
  /** Messages the server sent so far (a client stream's is its one response). */
  readonly messages: readonly Res[];
  /** The latest message from the server: a client stream's response once it is `success`. */
  readonly response: Res | undefined;
  /** Why the call failed (`CANCELLED` after `cancel()`), else `null`. */
  readonly error: SwillError | null;
}

/** A client-streaming or bidi call a component can drive and subscribe to. */
export interface StreamingCall<Req, Res> {
  /** The call under way, if any. */
  readonly call: Call<Res, Req> | undefined;
  /** Open the call now (a new one when the last is over). */
  start(): Call<Res, Req>;
  /**
   * Send one message, opening the call if none was; resolves once written. Rejects once the call
   * is over (with its error, or `FAILED_PRECONDITION` after it succeeded).
   */
  send(message: Req): Promise<void>;
  /** End the request stream; resolves with the last response once the call succeeds. */
  end(): Promise<Res | undefined>;
  /** Cancel the call: CLOSE goes out, the status turns `error` with `CANCELLED`. */
  cancel(reason?: string): void;
  /** Back to `idle` (cancelling a call under way). */
  reset(): void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): StreamingCallSnapshot<Res>;
}

const IDLE: StreamingCallSnapshot<never> = { status: "idle", sent: 0, messages: [], response: undefined, error: null };

/**
 * A {@link StreamingCall} of `rpc` on `client`.
 *
 * ```ts
 * const upload = streamingCall<Uint8Array, number>(client, "upload");
 * for (const chunk of chunks) await upload.send(chunk);   // upload.getSnapshot().sent grows
 * const stored = await upload.end();
 * ```
 */
export function streamingCall<Req = unknown, Res = unknown>(
  client: Client,
  rpc: string,
  options: CallOptions = {},
): StreamingCall<Req, Res> {
  const listeners = new Set<() => void>();
  let snapshot: StreamingCallSnapshot<Res> = IDLE;
  let current: Call<Res, Req> | undefined;
  let finished: Promise<void> = Promise.resolve();

  const update = (call: Call<Res, Req>, change: Partial<StreamingCallSnapshot<Res>>): void => {
    if (call !== current) {
      return; // a call that was reset or replaced
    }
    snapshot = { ...snapshot, ...change };
    for (const listener of [...listeners]) {
      listener();
    }
  };

  const read = async (call: Call<Res, Req>): Promise<void> => {
    try {
      for await (const message of call) {
        update(call, { messages: [...snapshot.messages, message], response: message });
      }
      update(call, { status: "success" });
    } catch (error) {
      update(call, { status: "error", error: SwillError.from(error) });
    }
  };

  const start = (): Call<Res, Req> => {
    if (current !== undefined && !current.done) {
      return current;
    }
    const call = client.open<Res, Req>(rpc, undefined, options);
    current = call;
    snapshot = IDLE;
    update(call, { status: "open" });
    finished = read(call);
    return call;
  };

  return {
    get call() {
      return current;
    },
    start,
    async send(message) {
      const call = current ?? start();
      await call.send(message);
      update(call, { sent: snapshot.sent + 1 });
    },
    async end() {
      const call = current;
      if (call === undefined) {
        return undefined;
      }
      if (!call.done) {
        update(call, { status: "ending" });
      }
      await call.end();
      await finished;
      if (snapshot.error !== null) {
        throw snapshot.error;
      }
      return snapshot.response;
    },
    cancel(reason) {
      current?.cancel(reason);
    },
    reset() {
      const call = current;
      current = undefined;
      call?.cancel("reset");
      snapshot = IDLE;
      for (const listener of [...listeners]) {
        listener();
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot() {
      return snapshot;
    },
  };
}
