/**
 * The client's side of one connection, sans-I/O: frames in, events and frames out. No sockets,
 * no timers, no promises; the same frames give the same events as swill/_protocol.py's
 * `ClientProtocol`, which the shared fixtures (tests/fixtures/) check.
 *
 * Feed each WebSocket message to `receiveData` (binary) or `receiveText` (text), and the socket's
 * end to `receiveClose`; then take `eventsReceived()` and `dataToSend()`. The `send*` methods
 * queue frames for `dataToSend()`.
 *
 * Rules this module keeps:
 *
 * 1. Ids only grow, from 1. The core admits calls (`accepting`, `full`), keeps each open call's
 *    state and credit, and forgets a call once it is over, whichever side ended it.
 * 2. Whatever a frame breaks, it ends at most one call: the call it names when that call is
 *    open (a `CallFailed` event, with CLOSE queued so that the server's handler stops), otherwise
 *    an `ErrorReceived` on id 0. The connection goes on. No bytes make this module throw.
 * 3. Frames for calls that are not open are ignored: they may race with the call's end.
 * 4. When the socket closes, every open call fails with the close's error ({@link closeError}):
 *    4401 `UNAUTHENTICATED`, 4403 `PERMISSION_DENIED`, 4429 `RESOURCE_EXHAUSTED`, any other 44xx
 *    `FAILED_PRECONDITION`, the close reason as message; any other code `UNAVAILABLE`.
 */

import { CallState, ProtocolViolation } from "./call-state.js";
import { Code, SwillError } from "./errors.js";
import {
  type ClientFrame,
  type ErrorFrame,
  FrameError,
  FrameType,
  MAX_ID,
  type Metadata,
  type RequestOptions,
  decodeFrame,
  encodeFrame,
  peek,
} from "./frames.js";

/** What the server announced in HELLO (docs/protocol.md, "HELLO and GOAWAY"). */
export interface Settings {
  readonly version: number;
  /** The largest message, in bytes, the server accepts. */
  readonly maxMessageSize: number;
  readonly maxConcurrentCalls: number;
  /** The initial credit of a streamed request. */
  readonly clientWindow: number;
  /** The server's name and version. */
  readonly server: string;
  /** The settings map as it came, unknown keys included. */
  readonly hello: Readonly<Record<string, unknown>>;
}

/** The settings a connection assumes until HELLO says otherwise. */
export const DEFAULT_SETTINGS: Settings = {
  version: 1,
  maxMessageSize: 1 << 20,
  maxConcurrentCalls: 100,
  clientWindow: 16,
  server: "",
  hello: {},
};

/** The largest message the client accepts from a server by default (16 MiB, as in Python). */
export const DEFAULT_MAX_RECEIVE_SIZE = 16 << 20;

const NONE: readonly never[] = Object.freeze([]);

/** A REQUEST's `data` when it carries none (a streamed request without a first message). */
export const NO_DATA: unique symbol = Symbol("no data");

/** What a call asks for when it opens. */
export interface CallRequest {
  readonly rpc: string;
  /** The value, or {@link NO_DATA}. */
  readonly data: unknown;
  readonly metadata: Metadata | null;
  /** The deadline in milliseconds, sent as `options.timeout`. */
  readonly timeoutMs: number | undefined;
  /** The flow-control window of the response, sent as `options.window`. */
  readonly window: number | null;
}

/** The server's settings arrived (HELLO). */
export interface HelloReceived {
  readonly type: "HelloReceived";
  readonly settings: Settings;
}
/** Leading metadata from a METADATA frame. */
export interface MetadataReceived {
  readonly type: "MetadataReceived";
  readonly id: number;
  readonly metadata: Metadata;
}
/** One message of a streamed response. */
export interface MessageReceived {
  readonly type: "MessageReceived";
  readonly id: number;
  readonly data: unknown;
}
/** The single response; the call is over. */
export interface ResponseReceived {
  readonly type: "ResponseReceived";
  readonly id: number;
  readonly data: unknown;
  readonly leading: Metadata | null;
  readonly trailing: Metadata;
}
/** The streamed response ended with its trailing metadata; the call is over. */
export interface EndOfStream {
  readonly type: "EndOfStream";
  readonly id: number;
  readonly metadata: Metadata;
}
/** An ERROR frame; on id 0 it is about the connection, else the call is over. */
export interface ErrorReceived {
  readonly type: "ErrorReceived";
  readonly id: number;
  readonly error: SwillError;
}
/** The call is over with a local verdict: the server broke a rule on it, or the socket closed. */
export interface CallFailed {
  readonly type: "CallFailed";
  readonly id: number;
  readonly error: SwillError;
}
/** The server granted `n` more DATA frames of a streamed request. */
export interface CreditGranted {
  readonly type: "CreditGranted";
  readonly id: number;
  readonly n: number;
}
export interface PongReceived {
  readonly type: "PongReceived";
  readonly nonce: number;
}
/** The server takes no new calls on this connection. */
export interface GoAwayReceived {
  readonly type: "GoAwayReceived";
  readonly reason: string | null;
}
/** The socket closed; every call that was open has had its `CallFailed`. */
export interface ConnectionClosed {
  readonly type: "ConnectionClosed";
  readonly code: number;
  readonly reason: string;
  readonly error: SwillError;
}

/** Everything the core tells its I/O layer. */
export type ProtocolEvent =
  | HelloReceived
  | MetadataReceived
  | MessageReceived
  | ResponseReceived
  | EndOfStream
  | ErrorReceived
  | CallFailed
  | CreditGranted
  | PongReceived
  | GoAwayReceived
  | ConnectionClosed;

/** The events about one call. */
export type CallEvent = Extract<ProtocolEvent, { readonly id: number }>;

const REFUSALS: Readonly<Record<number, Code>> = {
  4401: Code.UNAUTHENTICATED,
  4403: Code.PERMISSION_DENIED,
  4429: Code.RESOURCE_EXHAUSTED,
};

/**
 * The code a refusal close (44xx, docs/protocol.md, "Malformed frames, limits and refusals")
 * stands for; `undefined` for others.
 */
export function refusalCode(closeCode: number): Code | undefined {
  if (closeCode < 4400 || closeCode > 4499) {
    return undefined;
  }
  return REFUSALS[closeCode] ?? Code.FAILED_PRECONDITION;
}

/** The error for calls on a connection that closed with `code` and `reason`; `data` is `{ close_code }`. */
export function closeError(code: number, reason: string): SwillError {
  const init = { cause: { code, reason }, data: { close_code: code } };
  const refusal = refusalCode(code);
  if (refusal !== undefined) {
    return new SwillError(refusal, reason || `the server refused the connection (close code ${code})`, init);
  }
  const detail = reason ? `${code} ${reason}` : `${code}`;
  return new SwillError(Code.UNAVAILABLE, `the connection was lost (${detail})`, init);
}

/**
 * The client's side of one connection.
 *
 * @param maxReceiveSize - The largest message accepted from the server, in bytes; a larger one
 *   fails the call it names with `RESOURCE_EXHAUSTED`, unread.
 */
export class ClientProtocol {
  /** The server's settings (defaults until HELLO). */
  settings: Settings = DEFAULT_SETTINGS;
  /** The id the next call gets. */
  nextId = 1;
  /** Whether the server sent GOAWAY. */
  goaway = false;
  /** Whether the socket closed. */
  closed = false;
  readonly #maxReceiveSize: number;
  readonly #calls = new Map<number, CallState>();
  #events: ProtocolEvent[] = [];
  #out: Uint8Array[] = [];

  constructor(maxReceiveSize: number = DEFAULT_MAX_RECEIVE_SIZE) {
    this.#maxReceiveSize = maxReceiveSize;
  }

  /** Whether HELLO arrived. */
  get helloReceived(): boolean {
    return this.settings !== DEFAULT_SETTINGS;
  }

  /** Whether new calls may start here. */
  get accepting(): boolean {
    return !this.closed && !this.goaway && this.nextId <= MAX_ID;
  }

  /** How many calls are open. */
  get openCalls(): number {
    return this.#calls.size;
  }

  /** Whether as many calls are open as the server allows (`max_concurrent_calls`). */
  get full(): boolean {
    return this.#calls.size >= this.settings.maxConcurrentCalls;
  }

  /** Whether call `id` is open. */
  isOpen(id: number): boolean {
    return this.#calls.has(id);
  }

  /** The events since the last call, in order. */
  eventsReceived(): readonly ProtocolEvent[] {
    const events = this.#events;
    if (events.length === 0) {
      return NONE; // no allocation on the common path
    }
    this.#events = [];
    return events;
  }

  /** The messages to write, in order, one frame each. */
  dataToSend(): readonly Uint8Array[] {
    const out = this.#out;
    if (out.length === 0) {
      return NONE;
    }
    this.#out = [];
    return out;
  }

  // Sending.

  /**
   * Send credentials (AUTH): first on a connection, and again whenever they are renewed.
   *
   * @throws SwillError `INVALID_ARGUMENT` when MessagePack can't hold them, `RESOURCE_EXHAUSTED`
   *   when they are larger than the server accepts.
   */
  sendAuth(credentials: unknown): void {
    this.#queue(this.#encode({ type: FrameType.AUTH, id: 0, credentials }));
  }

  /**
   * Open a call. Returns its id.
   *
   * @throws SwillError `FAILED_PRECONDITION` when the connection takes no calls, `INVALID_ARGUMENT`
   *   when the data can't be encoded, `RESOURCE_EXHAUSTED` when the frame is too large.
   */
  sendRequest(init: CallRequest): number {
    if (!this.accepting) {
      throw new SwillError(Code.FAILED_PRECONDITION, "this connection takes no new calls");
    }
    const id = this.nextId;
    let options: RequestOptions | null = null;
    if (init.timeoutMs !== undefined || init.window !== null) {
      options = {
        ...(init.timeoutMs === undefined ? {} : { timeout: init.timeoutMs }),
        ...(init.window === null ? {} : { window: init.window }),
      };
    }
    const head = { type: FrameType.REQUEST, id, rpc: init.rpc, metadata: init.metadata, options };
    const hasData = init.data !== NO_DATA;
    const message = this.#encode(hasData ? { ...head, data: init.data } : head);
    this.nextId += 1;
    this.#calls.set(id, new CallState(id, this.settings.clientWindow - (hasData ? 1 : 0), init.window));
    this.#queue(message);
    return id;
  }

  /**
   * Send one message of a streamed request. Returns the size of the frame.
   *
   * @throws SwillError `FAILED_PRECONDITION` when the call is not open, its request ended or it
   *   has no credit; `INVALID_ARGUMENT` or `RESOURCE_EXHAUSTED` as for REQUEST (the call goes on).
   */
  sendData(id: number, data: unknown): number {
    const call = this.#call(id);
    const message = this.#encode({ type: FrameType.DATA, id, data });
    this.#advance(call, FrameType.DATA);
    this.#queue(message);
    return message.byteLength;
  }

  /** End the streamed request of call `id`. */
  sendEnd(id: number): void {
    const call = this.#call(id);
    this.#advance(call, FrameType.END_OF_STREAM);
    this.#queue(encodeFrame({ type: FrameType.END_OF_STREAM, id, metadata: null }));
  }

  /** Cancel call `id`; whatever still arrives for it is ignored. A no-op once it is over. */
  sendClose(id: number, reason: string | null = null): void {
    if (this.#calls.delete(id) && !this.closed) {
      this.#queue(encodeFrame({ type: FrameType.CLOSE, id, reason }));
    }
  }

  /** Send a PING; the server answers with a PONG carrying `nonce`. */
  sendPing(nonce: number): void {
    this.#queue(encodeFrame({ type: FrameType.PING, nonce }));
  }

  /** Allow the server `n` more DATA frames on call `id` (CREDIT). A no-op once it is over. */
  grantCredit(id: number, n: number): void {
    const call = this.#calls.get(id);
    if (call !== undefined && !this.closed) {
      call.grant(n);
      this.#queue(encodeFrame({ type: FrameType.CREDIT, id, n }));
    }
  }

  /** Whether a DATA frame for call `id` may go now: open, request not ended, within credit. */
  canSendData(id: number): boolean {
    const call = this.#calls.get(id);
    return call !== undefined && call.request === "OPEN" && call.canSendData();
  }

  #call(id: number): CallState {
    const call = this.#calls.get(id);
    if (call === undefined) {
      throw new SwillError(Code.FAILED_PRECONDITION, `call ${id} is not open`);
    }
    return call;
  }

  #advance(call: CallState, type: FrameType): void {
    try {
      call.send(type);
    } catch (error) {
      throw new SwillError(Code.FAILED_PRECONDITION, (error as Error).message);
    }
  }

  #encode(frame: ClientFrame): Uint8Array {
    let message: Uint8Array;
    try {
      message = encodeFrame(frame);
    } catch (error) {
      throw new SwillError(Code.INVALID_ARGUMENT, `can't encode the message: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const limit = this.settings.maxMessageSize;
    if (message.byteLength > limit) {
      throw new SwillError(
        Code.RESOURCE_EXHAUSTED,
        `message of ${message.byteLength} bytes exceeds the server's max_message_size (${limit})`,
      );
    }
    return message;
  }

  #queue(message: Uint8Array): void {
    if (!this.closed) {
      this.#out.push(message);
    }
  }

  // Receiving.

  /** A text message arrived: the server broke the protocol (reported on id 0). */
  receiveText(_text: string): void {
    if (!this.closed) {
      this.#events.push({ type: "ErrorReceived", id: 0, error: violation("the server sent a text message") });
    }
  }

  /** A binary message arrived: exactly one frame. */
  receiveData(message: Uint8Array): void {
    if (this.closed) {
      return;
    }
    if (message.byteLength > this.#maxReceiveSize) {
      const [, id] = peek(message);
      const what = `message of ${message.byteLength} bytes exceeds the client's limit (${this.#maxReceiveSize})`;
      this.#malformed(id, new SwillError(Code.RESOURCE_EXHAUSTED, what));
      return;
    }
    let frame;
    try {
      frame = decodeFrame(message);
    } catch (error) {
      const failure = error as FrameError;
      this.#malformed(failure.id, violation(failure.message));
      return;
    }
    if (frame === null) {
      return; // an extension this version ignores
    }
    switch (frame.type) {
      case FrameType.DATA:
        if (this.#inCall(frame.id, frame.type)) {
          this.#events.push({ type: "MessageReceived", id: frame.id, data: frame.data });
        }
        return;
      case FrameType.RESPONSE:
        if (this.#inCall(frame.id, frame.type)) {
          const { id, data, leading, trailing } = frame;
          this.#events.push({ type: "ResponseReceived", id, data, leading, trailing: trailing ?? {} });
        }
        return;
      case FrameType.END_OF_STREAM:
        if (this.#inCall(frame.id, frame.type)) {
          this.#events.push({ type: "EndOfStream", id: frame.id, metadata: frame.metadata ?? {} });
        }
        return;
      case FrameType.METADATA:
        if (this.#inCall(frame.id, frame.type)) {
          this.#events.push({ type: "MetadataReceived", id: frame.id, metadata: frame.metadata ?? {} });
        }
        return;
      case FrameType.ERROR:
        this.#receiveError(frame);
        return;
      case FrameType.CREDIT:
        this.#receiveCredit(frame.id, frame.n);
        return;
      case FrameType.HELLO:
        this.settings = readSettings(frame.settings);
        this.#events.push({ type: "HelloReceived", settings: this.settings });
        return;
      case FrameType.PONG:
        this.#events.push({ type: "PongReceived", nonce: frame.nonce });
        return;
      case FrameType.GOAWAY:
        this.goaway = true;
        this.#events.push({ type: "GoAwayReceived", reason: frame.reason });
        return;
      default: {
        // REQUEST, CLOSE, PING, AUTH: frames only a client sends.
        const id = "id" in frame ? frame.id : undefined;
        this.#malformed(id, violation(`unexpected frame type ${frame.type} from the server`));
      }
    }
  }

  /**
   * The socket closed (or the I/O layer gave it up): every open call fails with `error`, by
   * default the one the close code stands for.
   */
  receiveClose(code: number, reason: string, error: SwillError = closeError(code, reason)): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.#out = [];
    for (const id of this.#calls.keys()) {
      this.#events.push({ type: "CallFailed", id, error });
    }
    this.#calls.clear();
    this.#events.push({ type: "ConnectionClosed", code, reason, error });
  }

  #receiveError(frame: ErrorFrame): void {
    const error = new SwillError(frame.code, frame.message, { data: frame.data, metadata: frame.metadata ?? {} });
    if (frame.id === 0 || this.#inCall(frame.id, FrameType.ERROR)) {
      this.#events.push({ type: "ErrorReceived", id: frame.id, error });
    }
  }

  #receiveCredit(id: number, n: number): void {
    const call = this.#calls.get(id);
    if (call !== undefined) {
      call.granted(n);
      this.#events.push({ type: "CreditGranted", id, n });
    }
  }

  // Moves call `id` along its response table; true when the frame is to be reported.
  #inCall(id: number, type: FrameType): boolean {
    const call = this.#calls.get(id);
    if (call === undefined) {
      return false;
    }
    try {
      call.receive(type);
    } catch (error) {
      this.#fail(id, violation((error as ProtocolViolation).message));
      return false;
    }
    if (call.done) {
      this.#calls.delete(id);
    }
    return true;
  }

  #malformed(id: number | undefined, error: SwillError): void {
    if (id !== undefined && this.#calls.has(id)) {
      this.#fail(id, error);
    } else {
      this.#events.push({ type: "ErrorReceived", id: 0, error });
    }
  }

  // The server broke the protocol on call `id`: the call fails here, and CLOSE tells the server
  // to stop its handler (the call may still be open there).
  #fail(id: number, error: SwillError): void {
    this.sendClose(id, error.message.slice(0, 200));
    this.#events.push({ type: "CallFailed", id, error });
  }
}

function violation(message: string): SwillError {
  return new SwillError(Code.INTERNAL, `protocol violation: ${message}`);
}

function readSettings(hello: Record<string, unknown>): Settings {
  return {
    version: positive(hello["version"], DEFAULT_SETTINGS.version),
    maxMessageSize: positive(hello["max_message_size"], DEFAULT_SETTINGS.maxMessageSize),
    maxConcurrentCalls: positive(hello["max_concurrent_calls"], DEFAULT_SETTINGS.maxConcurrentCalls),
    clientWindow: positive(hello["client_window"], DEFAULT_SETTINGS.clientWindow),
    server: typeof hello["server"] === "string" ? hello["server"] : "",
    hello,
  };
}

function positive(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : fallback;
}
