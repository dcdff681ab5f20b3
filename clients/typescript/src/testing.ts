/**
 * `@swill/client/testing`: an in-memory Swill server with handlers written in TypeScript, for
 * testing a frontend without Python (as connect-es's `createRouterTransport`).
 *
 * The client under test is the real one: it opens an in-memory `WebSocket` (passed through its
 * `WebSocket` option), and every frame both ways is MessagePack-encoded and decoded by the same
 * code as on the wire.
 *
 * Rules this module keeps (the parts of docs/protocol.md a client can observe):
 *
 * 1. A connection starts with HELLO; frames are delivered in order, each in its own task, never
 *    synchronously inside `send()`.
 * 2. Calls: an unknown rpc is `UNIMPLEMENTED`; a single-request rpc without data is
 *    `INVALID_ARGUMENT`; ids must grow (else ERROR on id 0); at most `maxConcurrentCalls` are
 *    open (else `RESOURCE_EXHAUSTED`).
 * 3. A handler's `SwillError` is sent as ERROR with its code, message, data and metadata; any
 *    other exception as `INTERNAL` with the exception's message.
 * 4. Flow control: a streamed response sends no more DATA than the client's window allows; a
 *    streamed request is granted a CREDIT for each message the handler takes.
 * 5. CLOSE, a deadline, a lost connection and GOAWAY's end abort the handler's `signal`.
 */

import type { Client, ClientOptions } from "./client.js";
import { Client as SwillClient } from "./client.js";
import type { WebSocketConstructor } from "./connection.js";
import { Code, SwillError } from "./errors.js";
import {
  type ClientFrame,
  FrameType,
  type Metadata,
  type RequestFrame,
  type ServerFrame,
  UNLIMITED,
  decodeFrame,
  encodeFrame,
} from "./frames.js";
import { MemorySocket, type SocketPeer, later } from "./memory-socket.js";
import type { AnyRpcs, RpcKind } from "./rpcs.js";

export type { AnyRpcs, RpcKind, RpcShape } from "./rpcs.js";

/** What a handler knows of its call, and how it answers besides its return value. */
export interface HandlerContext {
  /** The rpc's name. */
  readonly rpc: string;
  /** The client metadata of the call (`{}` when none). */
  readonly metadata: Metadata;
  /** Aborted when the client sends CLOSE, the deadline passes, or the connection goes. */
  readonly signal: AbortSignal;
  /** Leading metadata: fill it before the first message. */
  readonly leading: Metadata;
  /** Trailing metadata: fill it before the handler returns. */
  readonly trailing: Metadata;
  /** Which connection of the server the call came on (from 1). */
  readonly connection: number;
}

/** A handler of one rpc, made by {@link unary}, {@link serverStream}, {@link clientStream}, {@link bidi}. */
export interface RpcHandler<K extends RpcKind = RpcKind, Req = unknown, Res = unknown> {
  readonly kind: K;
  // A method, so that handlers of any message types fit an untyped map.
  run(request: K extends "unary" | "server_stream" ? Req : AsyncIterable<Req>, context: HandlerContext): unknown;
  /** @private The types only. */
  readonly types?: { request: Req; response: Res };
}

type Awaitable<T> = T | Promise<T>;

/** A unary handler: one request, one response. */
export function unary<Req = unknown, Res = unknown>(
  run: (request: Req, context: HandlerContext) => Awaitable<Res>,
): RpcHandler<"unary", Req, Res> {
  return { kind: "unary", run };
}

/** A server-streaming handler: one request, the messages it yields (an async generator, say). */
export function serverStream<Req = unknown, Res = unknown>(
  run: (request: Req, context: HandlerContext) => AsyncIterable<Res> | Iterable<Res>,
): RpcHandler<"server_stream", Req, Res> {
  return { kind: "server_stream", run };
}

/** A client-streaming handler: the request messages as an async iterable, one response. */
export function clientStream<Req = unknown, Res = unknown>(
  run: (requests: AsyncIterable<Req>, context: HandlerContext) => Awaitable<Res>,
): RpcHandler<"client_stream", Req, Res> {
  return { kind: "client_stream", run };
}

/** A bidirectional handler: the request messages in, the messages it yields out. */
export function bidi<Req = unknown, Res = unknown>(
  run: (requests: AsyncIterable<Req>, context: HandlerContext) => AsyncIterable<Res>,
): RpcHandler<"bidi", Req, Res> {
  return { kind: "bidi", run };
}

/** Handlers by rpc name; with the `Rpcs` type of `swill codegen typescript`, checked per rpc. */
export type Handlers<R = AnyRpcs> = {
  readonly [N in keyof R & string]?: R[N] extends { kind: infer K extends RpcKind; request: infer Q; response: infer S }
    ? RpcHandler<K, Q, S>
    : never;
};

/** Options of {@link createTestServer}. */
export interface TestServerOptions {
  /** HELLO settings, merged over the defaults (`client_window` 16, `max_concurrent_calls` 100, …). */
  readonly settings?: Record<string, unknown> | undefined;
}

/** An in-memory Swill server. */
export interface TestServer {
  /** The `WebSocket` class to give a client: `new Client(url, { WebSocket: server.WebSocket })`. */
  readonly WebSocket: WebSocketConstructor;
  /** A client of this server (any URL does; the client's options may be given). */
  client(options?: ClientOptions): Client;
  /** How many connections are open. */
  readonly connections: number;
  /** How many calls are open, over all connections. */
  readonly openCalls: number;
  /** Drop every connection (close code 1006 by default), as a crash or a network loss would. */
  disconnect(code?: number, reason?: string): void;
  /** Send GOAWAY on every connection: they take no new calls and close once their calls end. */
  goaway(reason?: string): void;
  /** Refuse new connections with close code `code` (4401, 4403, …) and `reason`; `null` accepts again. */
  refuse(code: number | null, reason?: string): void;
  /** Listen to every frame a client sends; returns a function that stops. */
  onFrame(listener: (frame: ClientFrame, connection: number) => void): () => void;
}

const DEFAULT_SETTINGS = {
  version: 1,
  max_message_size: 1 << 20,
  max_concurrent_calls: 100,
  client_window: 16,
  server: "swill-testing/1",
};

/**
 * An in-memory server for `handlers`.
 *
 * ```ts
 * const server = createTestServer<Rpcs>({
 *   add: unary(([a, b]) => a + b),
 *   count: serverStream(async function* (n) { for (let i = 0; i < n; i++) yield i; }),
 * });
 * const client = server.client();
 * await client.call("add", [1, 2]); // 3
 * ```
 */
export function createTestServer<R = AnyRpcs>(handlers: Handlers<R>, options: TestServerOptions = {}): TestServer {
  return new MemoryServer(handlers as Readonly<Record<string, RpcHandler | undefined>>, {
    ...DEFAULT_SETTINGS,
    ...options.settings,
  });
}

class MemoryServer implements TestServer {
  readonly WebSocket: WebSocketConstructor;
  readonly #handlers: Readonly<Record<string, RpcHandler | undefined>>;
  readonly settings: Record<string, unknown>;
  readonly #live = new Set<ServerConnection>();
  readonly #listeners = new Set<(frame: ClientFrame, connection: number) => void>();
  #refusal: { code: number; reason: string } | null = null;
  #count = 0;

  constructor(handlers: Readonly<Record<string, RpcHandler | undefined>>, settings: Record<string, unknown>) {
    this.#handlers = handlers;
    this.settings = settings;
    const server = this;
    this.WebSocket = class extends MemorySocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        server.#accept(this);
      }
    };
  }

  client(options: ClientOptions = {}): Client {
    return new SwillClient("ws://swill.test/ws", { ...options, WebSocket: this.WebSocket });
  }

  get connections(): number {
    return this.#live.size;
  }

  get openCalls(): number {
    let n = 0;
    for (const connection of this.#live) {
      n += connection.calls.size;
    }
    return n;
  }

  handler(rpc: string): RpcHandler | undefined {
    return Object.hasOwn(this.#handlers, rpc) ? this.#handlers[rpc] : undefined;
  }

  disconnect(code = 1006, reason = "the test server dropped the connection"): void {
    for (const connection of [...this.#live]) {
      connection.drop(code, reason);
    }
  }

  goaway(reason = "the test server is going away"): void {
    for (const connection of this.#live) {
      connection.goaway(reason);
    }
  }

  refuse(code: number | null, reason = ""): void {
    this.#refusal = code === null ? null : { code, reason };
  }

  onFrame(listener: (frame: ClientFrame, connection: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  observed(frame: ClientFrame, connection: number): void {
    for (const listener of this.#listeners) {
      listener(frame, connection);
    }
  }

  forget(connection: ServerConnection): void {
    this.#live.delete(connection);
  }

  #accept(socket: MemorySocket): void {
    const refusal = this.#refusal;
    this.#count += 1;
    const connection = new ServerConnection(this, socket, this.#count);
    later(() => {
      socket.opened();
      if (refusal !== null) {
        socket.closedBy(refusal.code, refusal.reason);
        return;
      }
      this.#live.add(connection);
      connection.hello();
    });
  }
}

/** A queue of request messages, read by the handler as an async iterable. */
class Inbox<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(
    readonly onTake: () => void,
    readonly signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.#notify());
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.signal.aborted) {
        throw this.signal.reason;
      }
      if (this.#items.length > 0) {
        const item = this.#items.shift() as T;
        this.onTake();
        yield item;
        continue;
      }
      if (this.#ended) {
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

interface ServerCall {
  readonly id: number;
  readonly controller: AbortController;
  readonly inbox: Inbox<unknown> | undefined;
  credit: number;
  wake: (() => void) | undefined;
}

class ServerConnection implements SocketPeer {
  readonly calls = new Map<number, ServerCall>();
  readonly #server: MemoryServer;
  readonly #socket: MemorySocket;
  readonly id: number;
  #lastId = 0;
  #draining = false;
  #closed = false;

  constructor(server: MemoryServer, socket: MemorySocket, id: number) {
    this.#server = server;
    this.#socket = socket;
    this.id = id;
    socket.peer = this;
  }

  hello(): void {
    this.#send({ type: FrameType.HELLO, id: 0, settings: this.#server.settings });
  }

  goaway(reason: string): void {
    this.#draining = true;
    this.#send({ type: FrameType.GOAWAY, id: 0, reason });
    this.#closeIfDrained();
  }

  drop(code: number, reason: string): void {
    this.lost();
    later(() => this.#socket.closedBy(code, reason));
  }

  /** The connection is gone: abort every call. */
  lost(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#server.forget(this);
    for (const call of this.calls.values()) {
      call.controller.abort(new SwillError(Code.CANCELLED, "the connection was lost"));
    }
    this.calls.clear();
  }

  receive(bytes: Uint8Array): void {
    if (this.#closed) {
      return;
    }
    let frame: ClientFrame | null;
    try {
      frame = decodeFrame(bytes) as ClientFrame | null;
    } catch (error) {
      this.#error(0, Code.INVALID_ARGUMENT, (error as Error).message);
      return;
    }
    if (frame === null) {
      return;
    }
    this.#server.observed(frame, this.id);
    this.#dispatch(frame);
  }

  #dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case FrameType.REQUEST:
        this.#open(frame);
        return;
      case FrameType.PING:
        this.#send({ type: FrameType.PONG, nonce: frame.nonce });
        return;
      default:
        break;
    }
    const call = this.calls.get(frame.id);
    if (call === undefined) {
      return; // a call that ended meanwhile
    }
    switch (frame.type) {
      case FrameType.DATA:
        if (call.inbox === undefined) {
          this.#fail(call, new SwillError(Code.INVALID_ARGUMENT, "DATA for a single-request rpc"));
        } else if (call.inbox.size >= Number(this.#server.settings["client_window"])) {
          this.#fail(call, new SwillError(Code.RESOURCE_EXHAUSTED, "DATA beyond the granted credit"));
        } else {
          call.inbox.push(frame.data);
        }
        return;
      case FrameType.END_OF_STREAM:
        call.inbox?.end();
        return;
      case FrameType.CLOSE:
        this.calls.delete(call.id);
        call.controller.abort(new SwillError(Code.CANCELLED, frame.reason ?? "the client closed the call"));
        this.#closeIfDrained();
        return;
      case FrameType.CREDIT: {
        call.credit = frame.n >= UNLIMITED ? Number.POSITIVE_INFINITY : call.credit + frame.n;
        const wake = call.wake;
        call.wake = undefined;
        wake?.();
        return;
      }
    }
  }

  #open(frame: RequestFrame): void {
    if (frame.id <= this.#lastId) {
      this.#error(0, Code.INVALID_ARGUMENT, `call id ${frame.id} is not greater than ${this.#lastId}`);
      return;
    }
    this.#lastId = frame.id;
    const handler = this.#server.handler(frame.rpc);
    if (this.#draining) {
      this.#error(frame.id, Code.UNAVAILABLE, "the server is going away");
      return;
    }
    if (handler === undefined) {
      this.#error(frame.id, Code.UNIMPLEMENTED, `no rpc named ${JSON.stringify(frame.rpc)}`);
      return;
    }
    if (this.calls.size >= Number(this.#server.settings["max_concurrent_calls"])) {
      this.#error(frame.id, Code.RESOURCE_EXHAUSTED, "too many concurrent calls");
      return;
    }
    const streamed = handler.kind === "client_stream" || handler.kind === "bidi";
    if (!streamed && !("data" in frame)) {
      this.#error(frame.id, Code.INVALID_ARGUMENT, "the request has no data");
      return;
    }
    const controller = new AbortController();
    const call: ServerCall = {
      id: frame.id,
      controller,
      inbox: undefined,
      credit: frame.options?.window ?? Number.POSITIVE_INFINITY,
      wake: undefined,
    };
    const inbox = streamed
      ? new Inbox<unknown>(() => this.#send({ type: FrameType.CREDIT, id: frame.id, n: 1 }), controller.signal)
      : undefined;
    if (inbox !== undefined && "data" in frame) {
      inbox.push(frame.data);
    }
    Object.assign(call, { inbox });
    this.calls.set(frame.id, call);
    if (frame.options?.timeout !== undefined) {
      const timer = setTimeout(() => {
        this.#fail(call, new SwillError(Code.DEADLINE_EXCEEDED, "the deadline passed"));
      }, frame.options.timeout);
      controller.signal.addEventListener("abort", () => clearTimeout(timer));
    }
    const context: HandlerContext = {
      rpc: frame.rpc,
      metadata: frame.metadata ?? {},
      signal: controller.signal,
      leading: {},
      trailing: {},
      connection: this.id,
    };
    void this.#run(handler, call, inbox ?? frame.data, context);
  }

  async #run(handler: RpcHandler, call: ServerCall, request: unknown, context: HandlerContext): Promise<void> {
    try {
      const result = handler.run(request as never, context);
      if (handler.kind === "unary" || handler.kind === "client_stream") {
        const value = await result;
        this.#end(call, {
          type: FrameType.RESPONSE,
          id: call.id,
          data: value ?? null,
          leading: nonEmpty(context.leading),
          trailing: nonEmpty(context.trailing),
        });
        return;
      }
      let first = true;
      for await (const message of result as AsyncIterable<unknown>) {
        await this.#credit(call);
        if (!this.calls.has(call.id)) {
          return;
        }
        if (first && nonEmpty(context.leading) !== null) {
          this.#send({ type: FrameType.METADATA, id: call.id, metadata: context.leading });
        }
        first = false;
        this.#send({ type: FrameType.DATA, id: call.id, data: message ?? null });
        call.credit -= 1;
      }
      this.#end(call, { type: FrameType.END_OF_STREAM, id: call.id, metadata: nonEmpty(context.trailing) });
    } catch (error) {
      if (!this.calls.has(call.id)) {
        return; // cancelled: nothing goes out
      }
      const failure =
        error instanceof SwillError ? error : new SwillError(Code.INTERNAL, (error as Error)?.message ?? String(error));
      this.#fail(call, failure, context.trailing);
    }
  }

  #credit(call: ServerCall): Promise<void> {
    if (call.credit > 0 || call.controller.signal.aborted) {
      return Promise.resolve();
    }
    const signal = call.controller.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      call.wake = done;
      signal.addEventListener("abort", done);
    });
  }

  #fail(call: ServerCall, error: SwillError, trailing: Metadata = {}): void {
    if (!this.calls.has(call.id)) {
      return;
    }
    const metadata = nonEmpty({ ...trailing, ...error.metadata });
    this.#end(call, {
      type: FrameType.ERROR,
      id: call.id,
      code: error.code,
      message: error.message,
      data: error.data ?? null,
      metadata,
    });
    call.controller.abort(error);
  }

  #end(call: ServerCall, frame: ServerFrame): void {
    if (!this.calls.delete(call.id)) {
      return;
    }
    this.#send(frame);
    this.#closeIfDrained();
  }

  #error(id: number, code: Code, message: string): void {
    this.#send({ type: FrameType.ERROR, id, code, message, data: null, metadata: null });
  }

  #closeIfDrained(): void {
    if (this.#draining && this.calls.size === 0 && !this.#closed) {
      this.drop(1001, "going away");
    }
  }

  #send(frame: ServerFrame): void {
    if (this.#closed) {
      return;
    }
    const bytes = encodeFrame(frame);
    later(() => this.#socket.deliver(bytes));
  }
}

function nonEmpty(metadata: Metadata): Metadata | null {
  return Object.keys(metadata).length === 0 ? null : metadata;
}
