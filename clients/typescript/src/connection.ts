/**
 * One WebSocket and the calls on it.
 *
 * Rules this module keeps:
 *
 * 1. A connection is usable once the server's HELLO arrived; its settings bound what is sent
 *    (a frame larger than `max_message_size` is refused here, before it goes out).
 * 2. Ids only grow, from 1; a connection whose ids would leave the safe range, or that received
 *    GOAWAY, takes no new calls and closes once its last call ends.
 * 3. When the socket closes, or a PING goes unanswered for `pongTimeoutMs`, every open call fails
 *    with `UNAVAILABLE`: a call is never replayed on another connection, since the server may
 *    already have acted on it.
 */

import type { Call, CallLink } from "./call.js";
import { Code, SwillError } from "./errors.js";
import {
  type ClientFrame,
  FrameError,
  FrameType,
  MAX_ID,
  type ServerFrame,
  decodeFrame,
  encodeFrame,
} from "./frames.js";

/** The WebSocket subprotocol of protocol version 1. */
export const SUBPROTOCOL = "swill.v1";

/**
 * What Swill needs of a WebSocket: the browser's, `ws`'s, or undici's all fit.
 *
 * Handlers are typed loosely (`never` parameters) so that any implementation's own event types
 * are accepted; the connection reads only `data`, `code` and `reason` from the events.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** What the server announced in HELLO (PROTOCOL.md section 1a). */
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

/** How a connection ended. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** @private What a connection tells its client. */
export interface ConnectionHandlers {
  /** The connection closed (or was declared dead); its calls have failed. */
  onClose(connection: Connection, info: CloseInfo): void;
  /** The server sent GOAWAY: new calls need another connection. */
  onGoAway(connection: Connection, reason: string | null): void;
  /** An error about the connection rather than a call (ERROR on id 0, a bad frame). */
  onError(error: SwillError): void;
  /** A call ended: there is room for another. */
  onRelease(connection: Connection): void;
}

/** @private */
export interface ConnectionOptions {
  readonly WebSocket: WebSocketConstructor;
  readonly connectTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly handlers: ConnectionHandlers;
}

const DEFAULT_SETTINGS = { version: 1, maxMessageSize: 1 << 20, maxConcurrentCalls: 100, clientWindow: 16 };

/** The code a refusal close (44xx, PROTOCOL.md section 6) stands for; `undefined` for others. */
export function refusalCode(closeCode: number): Code | undefined {
  if (closeCode < 4400 || closeCode > 4499) {
    return undefined;
  }
  const codes: Record<number, Code> = {
    4401: Code.UNAUTHENTICATED,
    4403: Code.PERMISSION_DENIED,
    4429: Code.RESOURCE_EXHAUSTED,
  };
  return codes[closeCode] ?? Code.FAILED_PRECONDITION;
}

/** The error for a connection that closed with `info`: its refusal, or `UNAVAILABLE`. */
export function closeError(info: CloseInfo, what = "the connection closed"): SwillError {
  const refusal = refusalCode(info.code);
  if (refusal !== undefined) {
    return new SwillError(refusal, info.reason || `the server refused the connection (${info.code})`, { cause: info });
  }
  const detail = info.reason ? `${info.code} ${info.reason}` : `${info.code}`;
  return new SwillError(Code.UNAVAILABLE, `${what} (${detail})`, { cause: info });
}

/** @private One WebSocket to a Swill server, after HELLO. */
export class Connection implements CallLink {
  readonly settings: Settings;
  readonly #socket: WebSocketLike;
  readonly #options: ConnectionOptions;
  readonly #calls = new Map<number, Call<unknown, unknown>>();
  #nextId = 1;
  #draining = false;
  #closed = false;
  #nonce = 0;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Open a WebSocket to `url` and wait for HELLO.
   *
   * @throws SwillError `UNAVAILABLE` when it can't connect, or the refusal's code after a 44xx close.
   */
  static connect(url: string, options: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new options.WebSocket(url, [SUBPROTOCOL]);
      } catch (error) {
        reject(SwillError.from(error, Code.UNAVAILABLE));
        return;
      }
      socket.binaryType = "arraybuffer";
      const fail = (error: SwillError): void => {
        clearTimeout(timer);
        detach(socket);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new SwillError(Code.UNAVAILABLE, `no HELLO from the server within ${options.connectTimeoutMs} ms`));
        socket.close();
      }, options.connectTimeoutMs);
      socket.onerror = () => undefined; // a close event follows
      socket.onclose = (event: CloseInfo) => {
        fail(closeError({ code: event.code, reason: event.reason }, "the connection closed before HELLO"));
      };
      socket.onmessage = (event: { data: unknown }) => {
        let frame: ServerFrame | null = null;
        try {
          frame = readServerFrame(event.data);
        } catch {
          // Checked below.
        }
        if (frame?.type !== FrameType.HELLO) {
          fail(new SwillError(Code.INTERNAL, "protocol violation: the first frame is not HELLO"));
          socket.close(1002, "expected HELLO");
          return;
        }
        clearTimeout(timer);
        resolve(new Connection(socket, readSettings(frame.settings), options));
      };
    });
  }

  private constructor(socket: WebSocketLike, settings: Settings, options: ConnectionOptions) {
    this.#socket = socket;
    this.settings = settings;
    this.#options = options;
    socket.onmessage = (event: { data: unknown }) => this.#receive(event.data);
    socket.onclose = (event: CloseInfo) => this.#lost({ code: event.code, reason: event.reason });
    socket.onerror = () => undefined;
    if (options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), options.pingIntervalMs);
    }
  }

  /** Whether new calls may start here. */
  get accepting(): boolean {
    return !this.#closed && !this.#draining && this.#nextId <= MAX_ID;
  }

  /** Whether the connection is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many calls are open. */
  get openCalls(): number {
    return this.#calls.size;
  }

  get clientWindow(): number {
    return this.settings.clientWindow;
  }

  /** Whether as many calls are open as the server allows (`max_concurrent_calls`). */
  get full(): boolean {
    return this.#calls.size >= this.settings.maxConcurrentCalls;
  }

  /**
   * Start `call` here, on a connection that is `accepting`: give it the next id and send its
   * REQUEST. A REQUEST that can't go (too large, not encodable) fails the call instead.
   */
  open(call: Call<unknown, unknown>): void {
    const id = this.#nextId;
    const frame = call.request(id);
    if (frame === undefined) {
      return; // over before it started (cancelled, deadline)
    }
    let message: Uint8Array;
    try {
      message = this.#encode(frame);
    } catch (error) {
      call.fail(SwillError.from(error, Code.INVALID_ARGUMENT));
      return;
    }
    this.#nextId += 1;
    this.#calls.set(id, call);
    call.opened(id, this);
    this.#socket.send(message);
  }

  send(frame: ClientFrame): void {
    if (this.#closed) {
      throw new SwillError(Code.UNAVAILABLE, "the connection is closed");
    }
    this.#socket.send(this.#encode(frame));
  }

  release(id: number): void {
    if (!this.#calls.delete(id)) {
      return;
    }
    if (this.#draining && this.#calls.size === 0) {
      this.close(1000, "no calls left after GOAWAY");
    } else {
      this.#options.handlers.onRelease(this);
    }
  }

  /** Close the socket; open calls fail with `error` (default `UNAVAILABLE`). */
  close(code = 1000, reason = "", error?: SwillError): void {
    if (this.#closed) {
      return;
    }
    this.#socket.close(code, reason);
    this.#lost({ code, reason }, error);
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

  #receive(data: unknown): void {
    let frame: ServerFrame | null;
    try {
      frame = readServerFrame(data);
    } catch (error) {
      this.#violation(error as FrameError);
      return;
    }
    if (frame === null) {
      return; // an extension this version ignores
    }
    switch (frame.type) {
      case FrameType.HELLO:
        return;
      case FrameType.PONG:
        if (frame.nonce === this.#nonce) {
          clearTimeout(this.#pongTimer);
          this.#pongTimer = undefined;
        }
        return;
      case FrameType.GOAWAY:
        this.#draining = true;
        this.#options.handlers.onGoAway(this, frame.reason);
        if (this.#calls.size === 0) {
          this.close(1000, "GOAWAY");
        }
        return;
      case FrameType.ERROR:
        if (frame.id === 0) {
          this.#options.handlers.onError(
            new SwillError(frame.code, frame.message, { data: frame.data, metadata: frame.metadata ?? {} }),
          );
          return;
        }
        break;
      default:
        break;
    }
    this.#calls.get(frame.id)?.receive(frame);
  }

  #violation(error: FrameError): void {
    const failure = new SwillError(Code.INTERNAL, `protocol violation: ${error.message}`, { cause: error });
    const call = error.id === undefined ? undefined : this.#calls.get(error.id);
    if (call !== undefined) {
      call.fail(failure, true);
    } else {
      this.#options.handlers.onError(failure);
    }
  }

  #ping(): void {
    if (this.#pongTimer !== undefined || this.#closed) {
      return;
    }
    this.#nonce += 1;
    this.send({ type: FrameType.PING, nonce: this.#nonce });
    this.#pongTimer = setTimeout(() => {
      const reason = `no PONG within ${this.#options.pongTimeoutMs} ms`;
      try {
        this.#socket.close(4000, reason);
      } finally {
        this.#lost({ code: 1006, reason });
      }
    }, this.#options.pongTimeoutMs);
  }

  #lost(info: CloseInfo, error: SwillError = closeError(info, "the connection was lost")): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    detach(this.#socket);
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      call.fail(error);
    }
    this.#options.handlers.onClose(this, info);
  }
}

const CLIENT_ONLY: ReadonlySet<number> = new Set([FrameType.REQUEST, FrameType.CLOSE, FrameType.PING, FrameType.AUTH]);

/** Decode a WebSocket message from the server. Throws `FrameError`. */
function readServerFrame(data: unknown): ServerFrame | null {
  if (typeof data === "string") {
    throw new FrameError("the server sent a text message");
  }
  let bytes: Uint8Array;
  if (data instanceof ArrayBuffer) {
    bytes = new Uint8Array(data);
  } else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new FrameError("the server sent a message that is not binary");
  }
  const frame = decodeFrame(bytes);
  if (frame !== null && CLIENT_ONLY.has(frame.type)) {
    const id = "id" in frame ? frame.id : frame.nonce;
    throw new FrameError(`unexpected frame type ${frame.type} from the server`, frame.type, id);
  }
  return frame as ServerFrame | null;
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

// No-ops rather than null: some implementations (ws) throw on an error event nobody listens to.
function detach(socket: WebSocketLike): void {
  const ignore = (): void => undefined;
  socket.onopen = ignore;
  socket.onmessage = ignore;
  socket.onclose = ignore;
  socket.onerror = ignore;
}
