/**
 * One call: its state as a table, its credit, and the `Call` object applications hold.
 * Knows no WebSocket: a call talks to its connection through a {@link CallLink}.
 *
 * Rules this module keeps:
 *
 * 1. Each half of a call moves through its own table (as in swill/_calls.py): the request half
 *    (client → server) is OPEN until END_OF_STREAM; the response half goes IDLE → LEADING
 *    (METADATA) → STREAMING (DATA) → DONE (RESPONSE, END_OF_STREAM or ERROR). A frame from the
 *    server that is not in the table is a protocol violation that fails the call with `INTERNAL`.
 * 2. Flow control: a call that sends `window = W` lets the server send W DATA frames, and grants
 *    more only as the application takes messages, so at most W messages are ever buffered.
 * 3. A call ends once: with the server's last frame, or locally (cancel, deadline, abort, lost
 *    connection). After a local end the call sends CLOSE (when REQUEST went out) and ignores
 *    whatever still arrives.
 */

import { Code, SwillError, abortError } from "./errors.js";
import {
  type ClientFrame,
  FrameType,
  type Metadata,
  type RequestFrame,
  type RequestOptions,
  type ServerFrame,
  UNLIMITED,
} from "./frames.js";

/** The states of either half of a call. */
export type Half = "OPEN" | "IDLE" | "LEADING" | "STREAMING" | "DONE";

type Table = Readonly<Partial<Record<Half, Readonly<Partial<Record<FrameType, Half>>>>>>;

const REQUEST_HALF: Table = {
  OPEN: { [FrameType.DATA]: "OPEN", [FrameType.END_OF_STREAM]: "DONE" },
  DONE: {},
};

const RESPONSE_HALF: Table = {
  IDLE: {
    [FrameType.METADATA]: "LEADING",
    [FrameType.DATA]: "STREAMING",
    [FrameType.RESPONSE]: "DONE",
    [FrameType.END_OF_STREAM]: "DONE",
    [FrameType.ERROR]: "DONE",
  },
  LEADING: {
    [FrameType.DATA]: "STREAMING",
    [FrameType.RESPONSE]: "DONE",
    [FrameType.END_OF_STREAM]: "DONE",
    [FrameType.ERROR]: "DONE",
  },
  STREAMING: {
    [FrameType.DATA]: "STREAMING",
    [FrameType.END_OF_STREAM]: "DONE",
    [FrameType.ERROR]: "DONE",
  },
  DONE: {},
};

/** A move the protocol does not allow; `local` tells who made it. */
export class ProtocolViolation extends Error {
  override name = "ProtocolViolation";

  constructor(
    message: string,
    readonly local: boolean,
  ) {
    super(message);
  }
}

/**
 * The client's view of one call: both halves and the credit in each direction.
 *
 * `sendCredit` is what the client may still send (`null`: unlimited); `receiveCredit` is what the
 * server may still send before it must wait (`null`: no window was asked for).
 */
export class CallState {
  request: Half = "OPEN";
  response: Half = "IDLE";

  constructor(
    readonly id: number,
    public sendCredit: number | null,
    public receiveCredit: number | null,
  ) {}

  /** True once the frame that ends the call has come (or the call ended locally). */
  get done(): boolean {
    return this.response === "DONE";
  }

  /** Record that the client sends `type`. Throws a local `ProtocolViolation` if it may not. */
  send(type: FrameType): void {
    const next = REQUEST_HALF[this.request]?.[type];
    if (next === undefined) {
      throw new ProtocolViolation(`can't send ${name(type)} on call ${this.id} in state ${this.request}`, true);
    }
    if (type === FrameType.DATA && this.sendCredit !== null) {
      if (this.sendCredit <= 0) {
        throw new ProtocolViolation(`no credit to send DATA on call ${this.id}`, true);
      }
      this.sendCredit -= 1;
    }
    this.request = next;
  }

  /** Record that the server sent `type`. Throws a remote `ProtocolViolation` if it may not. */
  receive(type: FrameType): void {
    const next = RESPONSE_HALF[this.response]?.[type];
    if (next === undefined) {
      throw new ProtocolViolation(`unexpected ${name(type)} in state ${this.response}`, false);
    }
    if (type === FrameType.DATA && this.receiveCredit !== null) {
      if (this.receiveCredit <= 0) {
        throw new ProtocolViolation("DATA beyond the granted credit", false);
      }
      this.receiveCredit -= 1;
    }
    this.response = next;
  }

  /** Allow the server `n` more DATA frames. */
  grant(n: number): void {
    if (this.receiveCredit !== null) {
      this.receiveCredit = n >= UNLIMITED ? null : this.receiveCredit + n;
    }
  }

  /** The server allowed `n` more DATA frames. */
  granted(n: number): void {
    if (this.sendCredit !== null) {
      this.sendCredit = n >= UNLIMITED ? null : this.sendCredit + n;
    }
  }

  /** Whether DATA may go now as far as credit goes. */
  canSendData(): boolean {
    return this.sendCredit === null || this.sendCredit > 0;
  }
}

function name(type: FrameType): string {
  return Object.entries(FrameType).find(([, value]) => value === type)?.[0] ?? String(type);
}

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
  /** The server's `client_window` (HELLO): the credit of a streamed request. */
  readonly clientWindow: number;
  /** Send a frame for the call. Throws a `SwillError` when it is too large or can't go. */
  send(frame: ClientFrame): void;
  /** The call is over: forget it. */
  release(id: number): void;
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

const NO_DATA: unique symbol = Symbol("no data");

/**
 * One call of any kind: what `Client.open()` and `Client.stream()` return.
 *
 * - Streamed request: `send()` each message, then `end()`. `send()` waits while the server's
 *   credit is used up.
 * - Response: `await result()` for a single response, or `for await` over the messages of a
 *   streamed one (leaving the loop early cancels the call). On a single response, iteration
 *   yields that one value; on a streamed response, `result()` collects the messages not taken by
 *   iteration into an array.
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
  #state: CallState | undefined;
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
  #result: Promise<Res> | undefined;
  #buffer: Res[] = [];
  #head = 0;
  #ungranted = 0;
  #sending: Promise<unknown> = Promise.resolve();
  readonly #opened = deferred<void>();
  readonly #ended = deferred<void>();
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
   * The response: the single value, or for a streamed response the messages that iteration did
   * not take, as an array. Rejects with the call's `SwillError`.
   */
  result(): Promise<Res> {
    this.#result ??= this.#collect();
    return this.#result;
  }

  /** Cancel the call: CLOSE goes to the server and the call fails with `CANCELLED`. */
  cancel(reason?: string): void {
    const message = reason ?? "the call was cancelled";
    this.#finish(new SwillError(Code.CANCELLED, message), true, reason ?? null);
  }

  [Symbol.asyncIterator](): AsyncIterator<Res> {
    return {
      next: () => this.#next(true),
      return: (): Promise<IteratorResult<Res>> => {
        if (!this.#over) {
          this.cancel("the consumer stopped reading");
        }
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  // The connection's side.

  /** @private The REQUEST for this call as id `id`; `undefined` when the call is already over. */
  request(id: number): RequestFrame | undefined {
    if (this.#over) {
      return undefined;
    }
    let options: RequestOptions | null = null;
    if (this.#deadline !== undefined || this.#window !== null) {
      options = {
        ...(this.#deadline === undefined ? {} : { timeout: Math.max(1, Math.ceil(this.#deadline - now())) }),
        ...(this.#window === null ? {} : { window: this.#window }),
      };
    }
    const head = { type: FrameType.REQUEST, id, rpc: this.rpc, metadata: this.#metadata, options };
    return this.#data === NO_DATA ? head : { ...head, data: this.#data };
  }

  /** @private REQUEST went out as id `id` on `link`. */
  opened(id: number, link: CallLink): void {
    const sendCredit = link.clientWindow - (this.#data === NO_DATA ? 0 : 1);
    this.#id = id;
    this.#link = link;
    this.#state = new CallState(id, sendCredit, this.#window);
    this.#opened.resolve();
  }

  /** @private A frame from the server for this call. */
  receive(frame: ServerFrame): void {
    const state = this.#state;
    if (this.#over || state === undefined) {
      return;
    }
    if (frame.type === FrameType.CREDIT) {
      state.granted(frame.n);
      this.#notify();
      return;
    }
    try {
      state.receive(frame.type);
    } catch (error) {
      this.#finish(new SwillError(Code.INTERNAL, `protocol violation: ${(error as Error).message}`), true);
      return;
    }
    this.#take(frame);
  }

  /** @private End the call with `error` (a lost connection, a malformed frame). */
  fail(error: SwillError, close = false): void {
    this.#finish(error, close);
  }

  #take(frame: ServerFrame): void {
    switch (frame.type) {
      case FrameType.METADATA:
        this.#leading = frame.metadata ?? {};
        break;
      case FrameType.DATA:
        this.#leading ??= {};
        this.#buffer.push(frame.data as Res);
        break;
      case FrameType.RESPONSE:
        this.#leading = frame.leading ?? this.#leading ?? {};
        this.#trailing = frame.trailing ?? {};
        this.#response = { value: frame.data as Res };
        this.#finish(undefined, false);
        break;
      case FrameType.END_OF_STREAM:
        this.#leading ??= {};
        this.#trailing = frame.metadata ?? {};
        this.#finish(undefined, false);
        break;
      case FrameType.ERROR: {
        const metadata = frame.metadata ?? {};
        this.#leading ??= {};
        this.#trailing = metadata;
        this.#finish(new SwillError(frame.code, frame.message, { data: frame.data, metadata }), false);
        break;
      }
      default:
        break;
    }
    this.#notify();
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
    if (this.#state !== undefined) {
      this.#state.response = "DONE";
    }
    if (error?.code === Code.CANCELLED) {
      // The application asked for nothing more: drop what waits.
      this.#buffer = [];
      this.#head = 0;
    }
    if (this.#id !== undefined && this.#link !== undefined) {
      if (close) {
        try {
          this.#link.send({ type: FrameType.CLOSE, id: this.#id, reason });
        } catch {
          // The connection is gone, and the server forgets the call with it.
        }
      }
      this.#link.release(this.#id);
    }
    if (error === undefined) {
      this.#ended.resolve();
    } else {
      this.#opened.reject(error);
      this.#ended.reject(error);
    }
    this.#notify();
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = deferred(false);
    changed.resolve();
  }

  // Reading.

  async #next(withResponse: boolean): Promise<IteratorResult<Res>> {
    for (;;) {
      if (this.#head < this.#buffer.length) {
        return { done: false, value: this.#shift() };
      }
      if (withResponse && this.#response !== undefined && !this.#responseTaken) {
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
    const state = this.#state;
    if (window === null || state === undefined || this.#over || this.#link === undefined) {
      return;
    }
    this.#ungranted += 1;
    if (this.#ungranted >= Math.max(1, Math.floor(window / 2))) {
      const n = this.#ungranted;
      this.#ungranted = 0;
      state.grant(n);
      try {
        this.#link.send({ type: FrameType.CREDIT, id: state.id, n });
      } catch {
        // The connection is gone; the call fails with it.
      }
    }
  }

  // Takes every message still to come, so that a stream someone stopped iterating can't stall on
  // its window; an iterator running at the same time gets the ones it pulls first.
  async #collect(): Promise<Res> {
    const messages: Res[] = [];
    for (;;) {
      const next = await this.#next(false);
      if (next.done === true) {
        break;
      }
      messages.push(next.value);
    }
    await this.#ended.promise;
    return this.#response === undefined ? (messages as Res) : this.#response.value;
  }

  // Writing.

  #enqueue(step: () => Promise<void>): Promise<void> {
    const result = this.#sending.then(step);
    this.#sending = result.catch(() => undefined);
    return result;
  }

  async #sendData(message: Req): Promise<void> {
    const state = await this.#ready();
    for (;;) {
      if (this.#over) {
        throw this.#error ?? new SwillError(Code.FAILED_PRECONDITION, "the call is over");
      }
      if (state.request === "DONE") {
        throw new SwillError(Code.FAILED_PRECONDITION, "send() after end()");
      }
      if (state.canSendData()) {
        break;
      }
      await this.#changed.promise;
    }
    (this.#link as CallLink).send({ type: FrameType.DATA, id: state.id, data: message });
    state.send(FrameType.DATA);
  }

  async #sendEnd(): Promise<void> {
    const state = await this.#ready().catch(() => undefined);
    if (state === undefined || this.#over || state.request === "DONE") {
      return;
    }
    (this.#link as CallLink).send({ type: FrameType.END_OF_STREAM, id: state.id, metadata: null });
    state.send(FrameType.END_OF_STREAM);
  }

  async #ready(): Promise<CallState> {
    await this.#opened.promise;
    return this.#state as CallState;
  }
}

function now(): number {
  return typeof performance === "undefined" ? Date.now() : performance.now();
}
