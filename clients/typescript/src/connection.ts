/**
 * One WebSocket and the calls on it: a thin I/O layer over the protocol core (protocol.ts).
 *
 * Rules this module keeps:
 *
 * 1. Every message goes to the core, and every event of the core to the call it names; whatever
 *    the core queued is written at once. No frame is decoded, counted or judged here.
 * 2. With credentials, AUTH is the first frame, sent as soon as the socket opens. Calls start as
 *    soon as the socket is open, without waiting for HELLO (docs/protocol.md, "HELLO and GOAWAY"); the server's
 *    first frame must be HELLO, and its settings bound what is sent from then on.
 * 3. A connection that received GOAWAY (or whose ids are used up) takes no new calls and closes
 *    once its last call ends.
 * 4. When the socket closes, or a PING goes unanswered for `pongTimeoutMs`, every open call fails
 *    with the core's close error: a call is never replayed on another connection, since the
 *    server may already have acted on it.
 */

import type { Call, CallLink } from "./call.js";
import { Code, SwillError } from "./errors.js";
import {
  type CallEvent,
  ClientProtocol,
  type ProtocolEvent,
  type CallRequest,
  type Settings,
  closeError,
  refusalCode,
} from "./protocol.js";

export { closeError, refusalCode, type Settings };

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

/** How a connection ended. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** @private What a connection tells its client. */
export interface ConnectionHandlers {
  /** The server's HELLO arrived: `connection.settings` holds its settings. */
  onHello(connection: Connection): void;
  /** The connection closed (or was declared dead); its calls have failed. */
  onClose(connection: Connection, info: CloseInfo, error: SwillError): void;
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
  /** The largest message accepted from the server, in bytes. */
  readonly maxReceiveSize: number;
  readonly handlers: ConnectionHandlers;
}

/** @private One WebSocket to a Swill server. */
export class Connection implements CallLink {
  readonly #socket: WebSocketLike;
  readonly #options: ConnectionOptions;
  readonly #protocol: ClientProtocol;
  readonly #calls = new Map<number, Call<unknown, unknown>>();
  #opening: Opening | undefined;
  #greeting: Greeting | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  #served = false;
  #welcomed = false;
  #nonce = 0;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Open a WebSocket to `url` and send `credentials` in AUTH (when given). Resolves once the
   * socket is open: calls may start before HELLO (docs/protocol.md, "HELLO and GOAWAY"), which `hello` awaits.
   *
   * @throws SwillError `UNAVAILABLE` when it can't connect, or the refusal's code after a 44xx close.
   */
  static connect(url: string, options: ConnectionOptions, credentials?: Credentials): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new options.WebSocket(url, [SUBPROTOCOL]);
      } catch (error) {
        reject(SwillError.from(error, Code.UNAVAILABLE));
        return;
      }
      new Connection(socket, options, { resolve, reject }, credentials);
    });
  }

  private constructor(socket: WebSocketLike, options: ConnectionOptions, opening: Opening, credentials?: Credentials) {
    this.#socket = socket;
    this.#options = options;
    this.#protocol = new ClientProtocol(options.maxReceiveSize);
    this.#opening = opening;
    this.hello = new Promise((resolve, reject) => {
      this.#greeting = { resolve, reject };
    });
    this.hello.catch(() => undefined);
    this.#helloTimer = setTimeout(() => {
      const error = new SwillError(Code.UNAVAILABLE, `no HELLO from the server within ${options.connectTimeoutMs} ms`);
      if (!this.#giveUp(error)) {
        this.close(1000, "no HELLO", error);
      }
    }, options.connectTimeoutMs);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#opened(credentials);
    socket.onmessage = (event: { data: unknown }) => this.#receive(event.data);
    socket.onclose = (event: CloseInfo) => this.#lost(event.code, event.reason);
    socket.onerror = () => undefined; // a close event follows
  }

  /** Resolves with the server's settings once HELLO arrived; rejects if the connection ends first. */
  readonly hello: Promise<Settings>;

  /** What the calls failed with when the connection closed. */
  error: SwillError | undefined;

  /** The server's settings (from HELLO). */
  get settings(): Settings {
    return this.#protocol.settings;
  }

  /** Whether new calls may start here. */
  get accepting(): boolean {
    return this.#protocol.accepting;
  }

  /** Whether the connection is gone. */
  get closed(): boolean {
    return this.#protocol.closed;
  }

  /** How many calls are open. */
  get openCalls(): number {
    return this.#calls.size;
  }

  /** Whether as many calls are open as the server allows (`max_concurrent_calls`). */
  get full(): boolean {
    return this.#protocol.full;
  }

  /** Whether the server's HELLO arrived. */
  get greeted(): boolean {
    return this.#welcomed;
  }

  /** Whether the server has served a call here (so the credentials sent last passed). */
  get served(): boolean {
    return this.#served;
  }

  /**
   * Start `call` here, on a connection that is `accepting`: give it the next id and send its
   * REQUEST. A REQUEST that can't go (too large, not encodable) fails the call instead.
   */
  open(call: Call<unknown, unknown>): void {
    const init: CallRequest | undefined = call.request();
    if (init === undefined) {
      return; // over before it started (cancelled, deadline)
    }
    let id: number;
    try {
      id = this.#protocol.sendRequest(init);
    } catch (error) {
      call.fail(SwillError.from(error, Code.INVALID_ARGUMENT));
      return;
    }
    this.#calls.set(id, call);
    call.opened(id, this);
    this.#flush();
  }

  /** Send fresh credentials (AUTH) on this connection. */
  authenticate(credentials: unknown): void {
    this.#protocol.sendAuth(credentials);
    this.#flush();
  }

  // CallLink.

  canSendData(id: number): boolean {
    return this.#protocol.canSendData(id);
  }

  sendData(id: number, data: unknown): void {
    this.#protocol.sendData(id, data);
    this.#flush();
  }

  sendEnd(id: number): void {
    this.#protocol.sendEnd(id);
    this.#flush();
  }

  grant(id: number, n: number): void {
    this.#protocol.grantCredit(id, n);
    this.#flush();
  }

  cancel(id: number, reason: string | null): void {
    this.#protocol.sendClose(id, reason);
    this.#flush();
    this.#release(id);
  }

  /** Close the socket; open calls fail with `error` (default: the close code's). */
  close(code = 1000, reason = "", error?: SwillError): void {
    if (this.closed) {
      return;
    }
    this.#socket.close(code, reason);
    this.#lost(code, reason, error);
  }

  #release(id: number): void {
    if (!this.#calls.delete(id)) {
      return;
    }
    if (this.#protocol.goaway && this.#calls.size === 0) {
      this.close(1000, "no calls left after GOAWAY");
    } else {
      this.#options.handlers.onRelease(this);
    }
  }

  #flush(): void {
    for (const message of this.#protocol.dataToSend()) {
      try {
        this.#socket.send(message);
      } catch {
        // The socket is closing: its close event fails the calls.
        return;
      }
    }
  }

  #receive(data: unknown): void {
    if (typeof data === "string") {
      this.#protocol.receiveText(data);
    } else if (data instanceof ArrayBuffer) {
      this.#protocol.receiveData(new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      this.#protocol.receiveData(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      this.#protocol.receiveText(String(data));
    }
    this.#handle(this.#protocol.eventsReceived());
    this.#flush();
  }

  #handle(events: readonly ProtocolEvent[]): void {
    for (const event of events) {
      if (this.#greeting !== undefined && !this.#greeted(event)) {
        return;
      }
      switch (event.type) {
        case "HelloReceived":
          break;
        case "PongReceived":
          if (event.nonce === this.#nonce) {
            clearTimeout(this.#pongTimer);
            this.#pongTimer = undefined;
          }
          break;
        case "GoAwayReceived":
          this.#options.handlers.onGoAway(this, event.reason);
          if (this.#calls.size === 0) {
            this.close(1000, "GOAWAY");
          }
          break;
        case "ConnectionClosed":
          this.#closed(event.code, event.reason, event.error);
          break;
        case "ErrorReceived":
          if (event.id === 0) {
            this.#options.handlers.onError(event.error);
            break;
          }
          this.#toCall(event);
          break;
        default:
          this.#toCall(event);
      }
    }
  }

  #toCall(event: CallEvent): void {
    const call = this.#calls.get(event.id);
    if (call === undefined) {
      return;
    }
    this.#served ||= !this.#protocol.closed; // a frame of the server's, not the close
    call.receive(event);
    if (!this.#protocol.isOpen(event.id)) {
      this.#release(event.id);
    }
  }

  // The socket opened: AUTH goes first, then the connection takes calls.
  #opened(credentials: Credentials | undefined): void {
    const opening = this.#opening;
    if (opening === undefined) {
      return;
    }
    if (credentials !== undefined) {
      try {
        this.#protocol.sendAuth(credentials.value);
      } catch (error) {
        this.#giveUp(new SwillError(Code.UNAUTHENTICATED, (error as Error).message, { cause: error }));
        return;
      }
      this.#flush();
    }
    this.#opening = undefined;
    opening.resolve(this);
  }

  // The server's first frame must be HELLO; a connection that breaks this rule is closed.
  #greeted(event: ProtocolEvent): boolean {
    if (this.#protocol.closed) {
      return true; // the calls fail and the connection ends: see #closed
    }
    const greeting = this.#greeting as Greeting;
    this.#greeting = undefined;
    clearTimeout(this.#helloTimer);
    if (event.type !== "HelloReceived") {
      this.close(1002, "expected HELLO", new SwillError(Code.INTERNAL, "protocol violation: the first frame is not HELLO"));
      return false;
    }
    this.#welcomed = true;
    if (this.#options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), this.#options.pingIntervalMs);
    }
    greeting.resolve(event.settings);
    this.#options.handlers.onHello(this);
    return true;
  }

  // The attempt to open fails with `error` before the socket opened; false when it had opened.
  #giveUp(error: SwillError, code = 1000): boolean {
    const opening = this.#opening;
    if (opening === undefined) {
      return false;
    }
    this.#opening = undefined;
    opening.reject(error);
    this.#socket.close(code, error.message.slice(0, 100));
    this.#lost(code, "", error);
    return true;
  }

  #ping(): void {
    if (this.#pongTimer !== undefined || this.closed) {
      return;
    }
    this.#nonce += 1;
    this.#protocol.sendPing(this.#nonce);
    this.#flush();
    this.#pongTimer = setTimeout(() => {
      const reason = `no PONG within ${this.#options.pongTimeoutMs} ms`;
      try {
        this.#socket.close(4000, reason);
      } finally {
        this.#lost(1006, reason);
      }
    }, this.#options.pongTimeoutMs);
  }

  #lost(code: number, reason: string, error?: SwillError): void {
    this.#protocol.receiveClose(code, reason, error);
    this.#handle(this.#protocol.eventsReceived());
  }

  #closed(code: number, reason: string, error: SwillError): void {
    this.error = error;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    clearTimeout(this.#helloTimer);
    this.#detach();
    // The core already failed each call (CallFailed, dispatched before this event).
    this.#calls.clear();
    this.#greeting?.reject(error);
    this.#greeting = undefined;
    const opening = this.#opening;
    if (opening !== undefined) {
      // Closed before it opened: the attempt fails, and nobody else knew the connection.
      this.#opening = undefined;
      const detail = reason ? `${code} ${reason}` : `${code}`;
      opening.reject(
        refusalCode(code) === undefined
          ? new SwillError(Code.UNAVAILABLE, `the connection closed before it opened (${detail})`, { cause: { code, reason } })
          : error,
      );
      return;
    }
    this.#options.handlers.onClose(this, { code, reason }, error);
  }

  #detach(): void {
    detach(this.#socket);
  }
}

/** Credentials for AUTH, boxed so that `undefined` is a value too. */
export interface Credentials {
  readonly value: unknown;
}

interface Greeting {
  resolve(settings: Settings): void;
  reject(error: SwillError): void;
}

interface Opening {
  resolve(connection: Connection): void;
  reject(error: SwillError): void;
}

// No-ops rather than null: some implementations (ws) throw on an error event nobody listens to.
function detach(socket: WebSocketLike): void {
  const ignore = (): void => undefined;
  socket.onopen = ignore;
  socket.onmessage = ignore;
  socket.onclose = ignore;
  socket.onerror = ignore;
}
