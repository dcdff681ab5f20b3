/**
 * Resumable streams (docs/protocol.md, "Resumable streams"): `Client.subscribe()`.
 *
 * Rules this module keeps:
 *
 * 1. A resumable rpc takes the id of the last event seen (`nil` for a new subscriber) and streams
 *    `{ id, value }` maps. The subscription re-opens it, with the last id it delivered, after a
 *    failure that a new connection can cure: `UNAVAILABLE` (a lost connection, GOAWAY's drain,
 *    the server's broker gone) or a 4401 that the client's single auth retry cured
 *    ({@link ResumeLink.cured}). Any other error ends the iteration with that error;
 *    END_OF_STREAM ends it.
 * 2. Between attempts it waits `retryDelayMs(attempt)` (the client's reconnect policy); the count of
 *    attempts starts again once an event is delivered.
 * 3. Each event says what happened just before it ({@link Gap}): `missed` = id − last − 1 when
 *    id > last + 1, else 0; `restarted` when id ≤ last (the ids began again; missed is then 0).
 *    With no last id (`after` undefined or null) the first event has neither.
 */

import type { Call, CallOptions } from "./call.js";
import { Code, SwillError, abortError } from "./errors.js";

/** One event of a resumable stream, with what was missed just before it. */
export interface SubscriptionEvent<T = unknown> {
  /** The event's id; ids only grow, unless the server lost its state (`restarted`). */
  readonly id: number;
  readonly value: T;
  /** How many ids were skipped just before this event (0 normally). */
  readonly missed: number;
  /** The ids began again: the server lost its topic state. */
  readonly restarted: boolean;
}

/** Options of `Client.subscribe()`. */
export interface SubscribeOptions {
  /** The id of the last event already seen; the stream starts after it. */
  readonly after?: number | null | undefined;
  /** Aborting it ends the iteration (it then throws `CANCELLED`, or the signal's reason). */
  readonly signal?: AbortSignal | undefined;
  /** Client metadata of each REQUEST. */
  readonly metadata?: CallOptions["metadata"];
  /** Flow-control window of each stream. */
  readonly window?: number | undefined;
}

/** What `missed` and `restarted` say for event `id` after `last` (`null`: none yet). */
export function gap(last: number | null, id: number): { missed: number; restarted: boolean } {
  if (last === null || id === last + 1) {
    return { missed: 0, restarted: false };
  }
  if (id <= last) {
    return { missed: 0, restarted: true };
  }
  return { missed: id - last - 1, restarted: false };
}

/** Whether a subscription re-opens after `error`: `UNAVAILABLE`, or what `cured` vouches for. */
export function resumes(error: unknown, cured: (error: SwillError) => boolean = () => false): boolean {
  return error instanceof SwillError && (error.code === Code.UNAVAILABLE || cured(error));
}

/** @private What a subscription needs of its client. */
export interface ResumeLink {
  /** Open the stream, asking for events after `after`. */
  stream(rpc: string, after: number | null, options: CallOptions): Call<unknown, never>;
  /** Whether `error` came from a 4401 close that the client's auth retry is curing. */
  cured(error: SwillError): boolean;
  /** The wait before attempt `attempt` (1 for the first re-open): the reconnect policy. */
  delayMs(attempt: number): number;
}

/** @private The subscription's loop; `Client.subscribe()` returns it. */
export async function* subscription<T>(
  link: ResumeLink,
  rpc: string,
  options: SubscribeOptions,
): AsyncGenerator<SubscriptionEvent<T>, void, undefined> {
  const { signal } = options;
  let last = options.after ?? null;
  let attempt = 0;
  const callOptions: CallOptions = { signal, metadata: options.metadata, window: options.window };
  for (;;) {
    if (signal?.aborted) {
      throw abortError(signal);
    }
    try {
      for await (const message of link.stream(rpc, last, callOptions)) {
        const { id, value } = readEvent(message);
        const event: SubscriptionEvent<T> = { id, value: value as T, ...gap(last, id) };
        last = id;
        attempt = 0;
        yield event;
      }
      return;
    } catch (error) {
      if (signal?.aborted || !resumes(error, (e) => link.cured(e))) {
        throw error;
      }
    }
    attempt += 1;
    await pause(link.delayMs(attempt), signal);
  }
}

function readEvent(message: unknown): { id: number; value: unknown } {
  const record = message as { id?: unknown; value?: unknown } | null;
  const id = record?.id;
  if (typeof record !== "object" || record === null || typeof id !== "number" || !Number.isSafeInteger(id)) {
    throw new SwillError(Code.INTERNAL, "protocol violation: a resumable stream's message is not {id, value}");
  }
  return { id, value: record.value ?? null };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
