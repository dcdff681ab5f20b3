/**
 * The `Call` object applications hold: a thin layer over the protocol core's events. Knows no
 * WebSocket: a call talks to its connection through a {@link CallLink}, and the connection hands
 * it the core's events for its id.
 *
 * Rules this module keeps:
 *
 * 1. Flow control: a call that sends `window = W` lets the server send W DATA frames, and grants
 *    more only as the application takes messages, so at most W messages are ever buffered.
 * 2. A call ends once: with the server's last frame, or locally (cancel, deadline, abort, lost
 *    connection). After a local end the call sends CLOSE (when REQUEST went out) and ignores
 *    whatever still arrives.
 * 3. `result()` is for a single response. On a streamed one it rejects with `FAILED_PRECONDITION`
 *    ("iterate the call") and cancels the call; iterating a single response yields it once.
 */

import { Code, SwillError, abortError } from "./errors.js";
import type { Metadata } from "./frames.js";
import { type CallEvent, NO_DATA, type CallRequest } from "./protocol.js";

export { CallState, type Half, ProtocolViolation } from "./call-state.js";

/** Per-call options, for `call`, `stream` and `open`. */
export interface CallOptions {
  /** Aborting it cancels the call; the call then fails with `CANCELLED`. */
  readonly signal?: AbortSignal | undefined;
  /** The deadline, in milliseconds from now: sent to the server and enforced here too. */
  readonly timeoutMs?: number | undefined;
  /** The call's client metadata, sent in REQUEST. */
  readonly metadata?: Metadata | undefined;
  /** How many streamed messages may wait in memory before the server must pause. */
  readonly window?: number | undefined;
}

/** @private What a call needs of the connection it runs on. */
export interface CallLink {
  /** Whether a DATA frame for call `id` may go now (open, not ended, within credit). */
  canSendData(id: number): boolean;
  /** Send one message. Throws a `SwillError` when it is too large or can't go. */
  sendData(id: number, data: unknown): void;
  /** End the streamed request. */
  sendEnd(id: number): void;
  /** Allow the server `n` more DATA frames. */
  grant(id: number, n: number): void;
  /** The call ended here: CLOSE goes to the server, and the connection forgets the call. */
  cancel(id: number, reason: string | null): void;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(settled = true): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (settled) {
    // Rejections are read through `result()`, `send()` or iteration; none is left unhandled here.
    promise.catch(() => undefined);
  }
  return { promise, resolve, reject };
}

/**
 * One call of any kind: what `Client.open()` and `Client.stream()` return.
 *
 * - Streamed request: `send()` each message, then `end()`. `send()` waits while the server's
 *   credit is used up.
 * - Response: `await result()` for a single response, or `for await` over the messages of a
 *   streamed one (leaving the loop early cancels the call). Iterating a single response yields
 *   that one value; `result()` on a streamed response rejects with `FAILED_PRECONDITION` and
 *   cancels the call.
 * - `leadingMetadata` and `trailingMetadata` are `undefined` until they are known, then a map
 *   (`{}` when the server sent none).
 *
 * @typeParam Res - The response message type.
 * @typeParam Req - The request message type.
 */
export class Call<Res = unknown, Req = unknown> implements AsyncIterable<Res> {
  /** The rpc's name. */
  readonly rpc: string;
  #id: number | undefined;
  #link: CallLink | undefined;
  readonly #data: unknown;
  readonly #metadata: Metadata | null;
  readonly #window: number | null;
  readonly #deadline: number | undefined;
  readonly #signal: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #leading: Metadata | undefined;
  #trailing: Metadata | undefined;
  #over = false;
  #error: SwillError | undefined;
  #response: { readonly value: Res } | undefined;
  #responseTaken = false;
  #streamed = false;
  #requestEnded = false;
  #result: Promise<Res> | undefined;
  #buffer: Res[] = [];
  #head = 0;
  #ungranted = 0;
  #sending: Promise<unknown> = Promise.resolve();
  readonly #opened = deferred<number>();
  #changed = deferred<void>(false);

  /** @private Made by the client; applications get calls from `Client.open()`. */
  constructor(rpc: string, data: unknown, options: CallOptions = {}, window: number | null = null) {
    this.rpc = rpc;
    this.#data = data === undefined ? NO_DATA : data;
    this.#metadata = options.metadata ?? null;
    this.#window = window;
    this.#signal = options.signal;
    if (options.timeoutMs !== undefined) {
      this.#deadline = now() + options.timeoutMs;
      this.#timer = setTimeout(() => this.#expire(), Math.max(0, options.timeoutMs));
    }
    if (this.#signal?.aborted) {
      this.#finish(abortError(this.#signal), false);
    } else {
      this.#signal?.addEventListener("abort", this.#onAbort);
    }
  }

  /** The call's id on its connection, once REQUEST went out. */
  get id(): number | undefined {
    return this.#id;
  }

  /** The server's leading metadata, once the first frame of its response arrived. */
  get leadingMetadata(): Metadata | undefined {
    return this.#leading;
  }

  /** The server's trailing metadata, once the call ended (also when it failed). */
  get trailingMetadata(): Metadata | undefined {
    return this.#trailing;
  }

  /** Whether the call is over, however it ended. */
  get done(): boolean {
    return this.#over;
  }

  /** Messages received and not yet taken by the application; never more than the window. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /**
   * Send one message of a streamed request. Resolves once it is written; waits for the call to
   * open and for credit. Messages go in the order of the `send()` calls.
   *
   * @throws SwillError The call failed (its error), is over (`FAILED_PRECONDITION`), or the
   *   message is larger than the server accepts (`RESOURCE_EXHAUSTED`; the call goes on).
   */
  send(message: Req): Promise<void> {
    return this.#enqueue(() => this.#sendData(message));
  }

  /** End the streamed request (END_OF_STREAM), after the messages already sent. No-op when over. */
  end(): Promise<void> {
    return this.#enqueue(() => this.#sendEnd());
  }

  /**
   * The single response. Rejects with the call's `SwillError`; with `FAILED_PRECONDITION` when
   * the rpc streams its response (iterate the call instead), and the call is then cancelled.
   */
  result(): Promise<Res> {
    this.#result ??= this.#single();
    return this.#result;
  }

  /** Cancel the call: CLOSE goes to the server and the call fails with `CANCELLED`. */
  cancel(reason?: string): void {
    const message = reason ?? "the call was cancelled";
    this.#finish(new SwillError(Code.CANCELLED, message), true, reason ?? null);
  }

  [Symbol.asyncIterator](): AsyncIterator<Res> {
    return {
      next: () => this.#next(),
      return: (): Promise<IteratorResult<Res>> => {
        if (!this.#over) {
          this.cancel("the consumer stopped reading");
        }
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  // The connection's side.

  /** @private What REQUEST carries; `undefined` when the call is already over. */
  request(): CallRequest | undefined {
    if (this.#over) {
      return undefined;
    }
    return {
      rpc: this.rpc,
      data: this.#data,
      metadata: this.#metadata,
      timeoutMs: this.#deadline === undefined ? undefined : Math.max(1, Math.ceil(this.#deadline - now())),
      window: this.#window,
    };
  }

  /** @private REQUEST went out as id `id` on `link`. */
  opened(id: number, link: CallLink): void {
    this.#id = id;
    this.#link = link;
    this.#opened.resolve(id);
  }

  /** @private An event of the protocol core for this call. */
  receive(event: CallEvent): void {
    if (this.#over) {
      return;
    }
    switch (event.type) {
      case "CreditGranted":
        break;
      case "MetadataReceived":
        this.#leading = event.metadata;
        break;
      case "MessageReceived":
        this.#leading ??= {};
        this.#streamed = true;
        this.#buffer.push(event.data as Res);
        break;
      case "ResponseReceived":
        this.#leading = event.leading ?? this.#leading ?? {};
        this.#trailing = event.trailing;
        this.#response = { value: event.data as Res };
        this.#finish(undefined, false);
        break;
      case "EndOfStream":
        this.#leading ??= {};
        this.#trailing = event.metadata;
        this.#streamed = true;
        this.#finish(undefined, false);
        break;
      case "ErrorReceived":
        this.#leading ??= {};
        this.#trailing = event.error.metadata;
        this.#finish(event.error, false);
        break;
      case "CallFailed":
        this.#finish(event.error, false);
        break;
    }
    this.#notify();
  }

  /** @private End the call with `error` (a lost connection, a REQUEST that could not go). */
  fail(error: SwillError): void {
    this.#finish(error, false);
  }

  // Ending.

  readonly #onAbort = (): void => {
    if (this.#signal !== undefined) {
      this.#finish(abortError(this.#signal), true);
    }
  };

  #expire(): void {
    this.#finish(new SwillError(Code.DEADLINE_EXCEEDED, "the deadline passed"), true);
  }

  #finish(error: SwillError | undefined, close: boolean, reason: string | null = null): void {
    if (this.#over) {
      return;
    }
    this.#over = true;
    this.#error = error;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (error?.code === Code.CANCELLED) {
      // The application asked for nothing more: drop what waits.
      this.#buffer = [];
      this.#head = 0;
    }
    if (close && this.#id !== undefined && this.#link !== undefined) {
      this.#link.cancel(this.#id, reason);
    }
    if (error !== undefined) {
      this.#opened.reject(error);
    }
    this.#notify();
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = deferred(false);
    changed.resolve();
  }

  // Reading.

  async #next(): Promise<IteratorResult<Res>> {
    for (;;) {
      if (this.#head < this.#buffer.length) {
        return { done: false, value: this.#shift() };
      }
      if (this.#response !== undefined && !this.#responseTaken) {
        this.#responseTaken = true;
        return { done: false, value: this.#response.value };
      }
      if (this.#over) {
        if (this.#error !== undefined) {
          throw this.#error;
        }
        return { done: true, value: undefined };
      }
      await this.#changed.promise;
    }
  }

  async #single(): Promise<Res> {
    for (;;) {
      if (this.#response !== undefined) {
        return this.#response.value;
      }
      if (this.#error !== undefined) {
        throw this.#error;
      }
      if (this.#streamed || this.#over) {
        const error = new SwillError(
          Code.FAILED_PRECONDITION,
          `rpc "${this.rpc}" streams its response: iterate the call with for await`,
        );
        this.#finish(error, true, "result() on a streamed response");
        throw error;
      }
      await this.#changed.promise;
    }
  }

  #shift(): Res {
    const value = this.#buffer[this.#head] as Res;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    this.#consumed();
    return value;
  }

  // Grant credit as messages are taken, in batches of half the window.
  #consumed(): void {
    const window = this.#window;
    if (window === null || this.#id === undefined || this.#over || this.#link === undefined) {
      return;
    }
    this.#ungranted += 1;
    if (this.#ungranted >= Math.max(1, Math.floor(window / 2))) {
      const n = this.#ungranted;
      this.#ungranted = 0;
      this.#link.grant(this.#id, n);
    }
  }

  // Writing.

  #enqueue(step: () => Promise<void>): Promise<void> {
    const result = this.#sending.then(step);
    this.#sending = result.catch(() => undefined);
    return result;
  }

  async #sendData(message: Req): Promise<void> {
    const id = await this.#opened.promise;
    const link = this.#link as CallLink;
    for (;;) {
      if (this.#over) {
        throw this.#error ?? new SwillError(Code.FAILED_PRECONDITION, "the call is over");
      }
      if (this.#requestEnded) {
        throw new SwillError(Code.FAILED_PRECONDITION, "send() after end()");
      }
      if (link.canSendData(id)) {
        break;
      }
      await this.#changed.promise;
    }
    link.sendData(id, message);
  }

  async #sendEnd(): Promise<void> {
    const id = await this.#opened.promise.catch(() => undefined);
    if (id === undefined || this.#over || this.#requestEnded) {
      return;
    }
    this.#requestEnded = true;
    (this.#link as CallLink).sendEnd(id);
  }
}

function now(): number {
  return typeof performance === "undefined" ? Date.now() : performance.now();
}
