/**
 * The client: calls over one connection at a time, connecting lazily and again after a loss.
 *
 * Rules this module keeps:
 *
 * 1. One dial at a time: calls made while there is no open connection wait in a queue and start,
 *    in the order they were made, when the dial succeeds. A dial tries once, then retries
 *    `retries` times with {@link retryDelayMs} between attempts; when it gives up, the waiting
 *    calls fail with `UNAVAILABLE`.
 * 2. After a lost connection (or one drained by GOAWAY) the client dials again in the background
 *    (`reconnect`), so that `open` / `close` / `reconnecting` events track the server.
 * 3. A 44xx close is a refusal (docs/protocol.md, "Malformed frames, limits and refusals"): no
 *    automatic reconnect. New calls fail with the refusal's code until `connect()` is called
 *    again. The one exception: with `auth`, a 4401 is followed by one more `auth()` and an
 *    immediate reconnect; a second 4401 in a row (no call served in between) is final.
 * 4. Credentials: `auth()` is called before every connection attempt and its value goes in AUTH,
 *    the first frame of the connection. An `auth()` that throws fails the attempt with
 *    `UNAUTHENTICATED` and that message, and the dial stops there. Credentials never go into the
 *    URL, an error message or an event.
 */

import { type BackoffOptions, retryDelayMs } from "./backoff.js";
import { Call, type CallOptions } from "./call.js";
import {
  type CloseInfo,
  Connection,
  type ConnectionHandlers,
  type ConnectionOptions,
  type Credentials,
  type Settings,
  type WebSocketConstructor,
} from "./connection.js";
import { Code, SwillError } from "./errors.js";
import type { Metadata } from "./frames.js";
import { DEFAULT_MAX_RECEIVE_SIZE, refusalCode } from "./protocol.js";
import { type ResumeLink, type SubscribeOptions, type SubscriptionEvent, subscription } from "./subscribe.js";

/** Returns the credentials sent in AUTH: any MessagePack value, typically `{ token }`. */
export type AuthFunction = () => unknown;

/** Options of a {@link Client}. */
export interface ClientOptions {
  /** The `WebSocket` class, where there is no global one (Node 20: `WebSocket` from `ws`). */
  readonly WebSocket?: WebSocketConstructor | undefined;
  /** The default flow-control window of streamed responses (default 32). */
  readonly window?: number | undefined;
  /** How many times a dial retries before it gives up (default 5). */
  readonly retries?: number | undefined;
  /** The delays between retries. */
  readonly backoff?: BackoffOptions | undefined;
  /** Dial again in the background after a lost connection (default true). */
  readonly reconnect?: boolean | undefined;
  /** How long to wait for the socket to open and the server's HELLO (default 10 s). */
  readonly connectTimeoutMs?: number | undefined;
  /** Send a PING this often (default 0: never). The browser can't see WebSocket pings. */
  readonly pingIntervalMs?: number | undefined;
  /** Declare the connection dead when a PONG takes longer than this (default 10 s). */
  readonly pongTimeoutMs?: number | undefined;
  /**
   * Client metadata sent with every call, or a function that returns it, called as each call
   * starts (e.g. to add the current trace context). A call's own `metadata` adds to it and wins.
   */
  readonly metadata?: Metadata | (() => Metadata | undefined) | undefined;
  /**
   * Credentials: called (sync or async) before every connection attempt and once more after a
   * 4401 close; what it returns goes in the AUTH frame. Never put a token in the URL.
   */
  readonly auth?: AuthFunction | undefined;
  /** The largest message accepted from the server, in bytes (default 16 MiB). */
  readonly maxReceiveSize?: number | undefined;
}

/** Where the client's connection stands. */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting";

/** The events of a {@link Client} and what their listeners receive. */
export interface ClientEventMap {
  /** A connection opened: the server's HELLO arrived. */
  open: { readonly settings: Settings };
  /** The connection closed or was lost; its open calls failed with `UNAVAILABLE`. */
  close: CloseInfo;
  /** A retry is coming in `delayMs`; `error` is why the last attempt failed, if one did. */
  reconnecting: { readonly attempt: number; readonly delayMs: number; readonly error: SwillError | undefined };
  /** The server is shutting down: new calls go to a new connection. */
  goaway: { readonly reason: string | null };
  /** An error about the connection rather than a call: a refused dial, a background reconnect that gave up. */
  error: { readonly error: SwillError };
}

type Listener<K extends keyof ClientEventMap> = (event: ClientEventMap[K]) => void;

const DEFAULTS = {
  window: 32,
  retries: 5,
  reconnect: true,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 0,
  pongTimeoutMs: 10_000,
  maxReceiveSize: DEFAULT_MAX_RECEIVE_SIZE,
};

/**
 * A client of one Swill server.
 *
 * ```ts
 * const client = new Client("ws://localhost:8000/ws");
 * await client.call("add", [1, 2]);                 // 3
 * for await (const i of client.stream("count", 3)) {} // 0, 1, 2
 * ```
 */
export class Client {
  /** The server's WebSocket URL. */
  readonly url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #options: typeof DEFAULTS & { readonly backoff: BackoffOptions };
  readonly #auth: AuthFunction | undefined;
  readonly #listeners: { [K in keyof ClientEventMap]: Set<Listener<K>> } = {
    open: new Set(),
    close: new Set(),
    reconnecting: new Set(),
    goaway: new Set(),
    error: new Set(),
  };
  readonly #handlers: ConnectionHandlers;
  readonly #metadata: Metadata | (() => Metadata | undefined) | undefined;
  #connection: Connection | undefined;
  #dialing: Promise<Connection> | undefined;
  readonly #queue: Call[] = [];
  #refusal: SwillError | undefined;
  #lifetime = new AbortController();
  #closing = false;
  // After a 4401 with `auth`: the errors of the calls it failed (subscriptions resume after
  // those), and whether the retry is spent until a connection serves a call.
  readonly #cured = new WeakSet<SwillError>();
  #authRetried = false;
  #state: ConnectionState = "idle";

  /**
   * Nothing connects here: the first call (or `connect()`) does.
   *
   * @param url - `ws:` or `wss:` URL; in a browser also a path (`"/ws"`) or an `http(s):` URL.
   * @throws TypeError There is no global `WebSocket` and none was passed.
   */
  constructor(url: string | URL, options: ClientOptions = {}) {
    this.url = resolveUrl(url);
    const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocket === undefined) {
      throw new TypeError("no WebSocket implementation: pass one as new Client(url, { WebSocket })");
    }
    this.#WebSocket = WebSocket;
    this.#options = {
      window: options.window ?? DEFAULTS.window,
      retries: options.retries ?? DEFAULTS.retries,
      reconnect: options.reconnect ?? DEFAULTS.reconnect,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      pongTimeoutMs: options.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs,
      maxReceiveSize: options.maxReceiveSize ?? DEFAULTS.maxReceiveSize,
      backoff: options.backoff ?? {},
    };
    this.#metadata = options.metadata;
    this.#auth = options.auth;
    this.#handlers = {
      onHello: (connection) => this.#emit("open", { settings: connection.settings }),
      onClose: (connection, info, error) => this.#closed(connection, info, error),
      onGoAway: (connection, reason) => {
        if (connection === this.#connection) {
          this.#emit("goaway", { reason });
        }
      },
      onError: (error) => this.#emit("error", { error }),
      onRelease: (connection) => {
        if (connection === this.#connection && this.#queue.length > 0) {
          this.#flushQueue(connection);
        }
      },
    };
  }

  /** Where the connection stands. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The current connection's settings (from HELLO), while there is one. */
  get settings(): Settings | undefined {
    return this.#connection?.settings;
  }

  /** Listen to an event. Returns a function that stops listening. */
  on<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): () => void {
    this.#listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  /** Stop listening. */
  off<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): void {
    this.#listeners[event].delete(listener);
  }

  /**
   * Connect now rather than on the first call; resolves with the server's settings. Also lifts a
   * refusal (44xx close), e.g. after the application renewed its credentials.
   */
  async connect(): Promise<Settings> {
    this.#refusal = undefined;
    return (await this.#ready()).hello;
  }

  /**
   * Call a single-response rpc and get its response. `data` `undefined` is sent as `nil`.
   *
   * @throws SwillError The call failed.
   */
  call<Res = unknown>(rpc: string, data?: unknown, options: CallOptions = {}): Promise<Res> {
    const call = new Call<Res>(rpc, data ?? null, this.#callOptions(options), options.window ?? null);
    return this.#start(call).result();
  }

  /**
   * Call a server-streaming rpc: iterate the returned {@link Call} with `for await`. Leaving the
   * loop early cancels the call. `data` `undefined` is sent as `nil`.
   */
  stream<Res = unknown>(rpc: string, data?: unknown, options: CallOptions = {}): Call<Res, never> {
    const window = options.window ?? this.#options.window;
    return this.#start(new Call<Res, never>(rpc, data ?? null, this.#callOptions(options), window));
  }

  /**
   * Open a call of any kind. With `data` (not `undefined`) the REQUEST carries it (for a
   * streamed request, as its first message); without, the request is a stream to `send()` to.
   */
  open<Res = unknown, Req = unknown>(rpc: string, data?: unknown, options: CallOptions = {}): Call<Res, Req> {
    const window = options.window ?? this.#options.window;
    return this.#start(new Call<Res, Req>(rpc, data, this.#callOptions(options), window));
  }

  /**
   * Iterate the events of a resumable stream (docs/protocol.md, "Resumable streams"), re-opening it by itself,
   * with the last id delivered, after a lost connection, GOAWAY or `UNAVAILABLE`; any other error
   * ends the iteration with that error. Each event says what was `missed` just before it, and
   * whether the ids `restarted`. Leaving the loop (or aborting `signal`) cancels the stream.
   *
   * ```ts
   * for await (const event of client.subscribe<number>("temperature", { after: 0, signal })) {
   *   event.id; event.value; event.missed; event.restarted;
   * }
   * ```
   */
  subscribe<T = unknown>(rpc: string, options: SubscribeOptions = {}): AsyncIterable<SubscriptionEvent<T>> {
    const link: ResumeLink = {
      stream: (name, after, callOptions) => this.stream(name, after, callOptions),
      cured: (error) => this.#cured.has(error),
      delayMs: (attempt) => retryDelayMs(attempt, Math.random(), this.#options.backoff),
    };
    return subscription<T>(link, rpc, options);
  }

  /**
   * Call `auth()` and send its credentials (AUTH) on the live connection, replacing the old ones
   * without disturbing calls. Without a live connection it does nothing: the next connection
   * calls `auth()` anyway.
   *
   * @throws SwillError `FAILED_PRECONDITION` without an `auth` option; `UNAUTHENTICATED` when
   *   `auth()` throws.
   */
  async reauthenticate(): Promise<void> {
    if (this.#auth === undefined) {
      throw new SwillError(Code.FAILED_PRECONDITION, "reauthenticate() needs new Client(url, { auth })");
    }
    const connection = this.#connection;
    if (connection === undefined || connection.closed) {
      return; // the next connection calls auth() anyway
    }
    const credentials = await this.#credentials();
    if (credentials !== undefined && !connection.closed) {
      connection.authenticate(credentials.value);
    }
  }

  /**
   * Close the connection; open calls fail with `CANCELLED` and a pending dial stops. The client
   * stays usable: a later call connects again.
   */
  close(): void {
    const closed = new SwillError(Code.CANCELLED, "the client was closed");
    this.#lifetime.abort(closed);
    this.#lifetime = new AbortController();
    const connection = this.#connection;
    if (connection !== undefined) {
      this.#closing = true;
      try {
        connection.close(1000, "", closed);
      } finally {
        this.#closing = false;
      }
    }
  }

  // The client's metadata under the call's own.
  #callOptions(options: CallOptions): CallOptions {
    const base = typeof this.#metadata === "function" ? this.#metadata() : this.#metadata;
    if (base === undefined || Object.keys(base).length === 0) {
      return options;
    }
    return { ...options, metadata: { ...base, ...options.metadata } };
  }

  // Calls start in the order they are made: straight away on an open connection with room for
  // them (max_concurrent_calls), else queued until a call ends or a dial succeeds; a dial that
  // fails fails the queue.
  #start<Res, Req>(call: Call<Res, Req>): Call<Res, Req> {
    if (call.done) {
      return call;
    }
    const connection = this.#connection;
    if (this.#queue.length === 0 && connection?.accepting === true && !connection.full) {
      connection.open(call as Call);
      return call;
    }
    this.#queue.push(call as Call);
    if (connection?.accepting === true) {
      this.#flushQueue(connection);
    } else {
      this.#ready().catch((error: unknown) => this.#failQueue(error));
    }
    return call;
  }

  #flushQueue(connection: Connection): void {
    for (;;) {
      const call = this.#queue[0];
      if (call === undefined || connection.full) {
        return;
      }
      if (!connection.accepting) {
        // The connection stopped taking calls (GOAWAY, ids used up): dial another.
        this.#ready().catch((error: unknown) => this.#failQueue(error));
        return;
      }
      this.#queue.shift();
      if (!call.done) {
        connection.open(call);
      }
    }
  }

  #failQueue(error: unknown): void {
    const failure = SwillError.from(error, Code.UNAVAILABLE);
    for (const call of this.#queue.splice(0)) {
      call.fail(failure);
    }
  }

  #ready(): Promise<Connection> {
    if (this.#refusal !== undefined) {
      return Promise.reject(this.#refusal);
    }
    const connection = this.#connection;
    if (connection?.accepting === true) {
      return Promise.resolve(connection);
    }
    return this.#dial(false);
  }

  #dial(delayFirst: boolean): Promise<Connection> {
    if (this.#dialing === undefined) {
      const dialing = this.#attempts(delayFirst).finally(() => {
        if (this.#dialing === dialing) {
          this.#dialing = undefined;
        }
      });
      this.#dialing = dialing;
    }
    return this.#dialing;
  }

  async #attempts(delayFirst: boolean): Promise<Connection> {
    const signal = this.#lifetime.signal;
    let lastError: SwillError | undefined;
    try {
      for (let attempt = delayFirst ? 1 : 0; ; attempt++) {
        if (attempt > this.#options.retries) {
          const why = lastError === undefined ? "" : `: ${lastError.message}`;
          throw new SwillError(Code.UNAVAILABLE, `can't connect to ${this.url}${why}`, { cause: lastError });
        }
        if (attempt > 0) {
          const delayMs = retryDelayMs(attempt, Math.random(), this.#options.backoff);
          this.#state = "reconnecting";
          this.#emit("reconnecting", { attempt, delayMs, error: lastError });
          await sleep(delayMs, signal);
        } else {
          this.#state = "connecting";
        }
        const credentials = await abortable(this.#credentials(), signal);
        try {
          return this.#opened(await this.#attempt(credentials, signal));
        } catch (error) {
          if (signal.aborted) {
            throw signal.reason;
          }
          lastError = SwillError.from(error, Code.UNAVAILABLE);
          if (isRefusal(lastError)) {
            if (this.#retryAuth(lastError)) {
              attempt = -1; // at once, with fresh credentials
              continue;
            }
            this.#refusal = lastError;
            this.#emit("error", { error: lastError }); // a refused dial, foreground or background
            throw lastError;
          }
        }
      }
    } catch (error) {
      this.#state = "idle";
      throw error;
    }
  }

  // One connection attempt, with `credentials` in its AUTH.
  async #attempt(credentials: Credentials | undefined, signal: AbortSignal): Promise<Connection> {
    const connecting = Connection.connect(this.url, this.#connectionOptions(), credentials);
    const connection = await abortable(connecting, signal, (opened) => opened.close(1000, ""));
    if (connection.closed) {
      throw connection.error; // closed before the client took it: a failed attempt
    }
    return connection;
  }

  // Credentials for the next connection: `auth()`'s value, boxed; a throw is UNAUTHENTICATED.
  async #credentials(): Promise<Credentials | undefined> {
    if (this.#auth === undefined) {
      return undefined;
    }
    try {
      return { value: await this.#auth() };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SwillError(Code.UNAUTHENTICATED, message, { cause: error });
    }
  }

  // Whether a refusal gets the single auth retry (a 4401, with `auth`, not right after another).
  #retryAuth(error: SwillError): boolean {
    const cause = error.cause as Partial<CloseInfo> | undefined;
    if (this.#auth === undefined || cause?.code !== 4401 || this.#authRetried) {
      return false;
    }
    this.#authRetried = true;
    return true;
  }

  #opened(connection: Connection): Connection {
    this.#connection = connection;
    this.#dialing = undefined; // done: a close from now on may dial again at once
    this.#state = "open";
    this.#flushQueue(connection);
    return connection;
  }

  #connectionOptions(): ConnectionOptions {
    return {
      WebSocket: this.#WebSocket,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      pingIntervalMs: this.#options.pingIntervalMs,
      pongTimeoutMs: this.#options.pongTimeoutMs,
      maxReceiveSize: this.#options.maxReceiveSize,
      handlers: this.#handlers,
    };
  }

  #closed(connection: Connection, info: CloseInfo, error: SwillError): void {
    if (connection.served) {
      this.#authRetried = false;
    }
    if (connection !== this.#connection) {
      return; // drained after GOAWAY while a newer connection serves
    }
    this.#connection = undefined;
    this.#state = "idle";
    if (connection.greeted) {
      this.#emit("close", info); // after its "open"
    }
    if (refusalCode(info.code) !== undefined) {
      if (!this.#closing && this.#retryAuth(error)) {
        this.#cured.add(error);
        this.#dial(false).catch((failure: unknown) => {
          if (failure !== this.#refusal) {
            this.#emit("error", { error: SwillError.from(failure, Code.UNAVAILABLE) });
          }
        });
        return;
      }
      this.#refusal = error;
      return;
    }
    if (this.#options.reconnect && !this.#closing && this.#dialing === undefined) {
      this.#dial(true).catch((error: unknown) => {
        if (error !== this.#refusal) {
          this.#emit("error", { error: SwillError.from(error, Code.UNAVAILABLE) });
        }
      });
    }
  }

  #emit<K extends keyof ClientEventMap>(event: K, payload: ClientEventMap[K]): void {
    for (const listener of [...this.#listeners[event]]) {
      try {
        listener(payload);
      } catch (error) {
        // A listener's bug must not stop the client; let it surface as an uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function isRefusal(error: SwillError): boolean {
  const cause = error.cause as Partial<CloseInfo> | undefined;
  return typeof cause?.code === "number" && refusalCode(cause.code) !== undefined;
}

function resolveUrl(url: string | URL): string {
  const base = typeof location === "undefined" ? undefined : location.href;
  const resolved = new URL(String(url), base);
  if (resolved.protocol === "http:") {
    resolved.protocol = "ws:";
  } else if (resolved.protocol === "https:") {
    resolved.protocol = "wss:";
  }
  return resolved.toString();
}

/** `pending`, unless `signal` aborts first: what it resolves with later goes to `drop`. */
function abortable<T>(pending: Promise<T>, signal: AbortSignal, drop: (value: T) => void = () => undefined): Promise<T> {
  const connecting = pending;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      connecting.then(drop, () => undefined);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
