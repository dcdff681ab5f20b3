// An in-memory WebSocket and a scripted server side, for unit tests of the client.
import type { WebSocketConstructor, WebSocketLike } from "../../src/connection.js";
import { type ClientFrame, type Frame, FrameType, decodeFrame, encodeFrame } from "../../src/frames.js";

export const HELLO = {
  version: 1,
  max_message_size: 1 << 20,
  max_concurrent_calls: 100,
  client_window: 16,
  server: "fake/1",
};

type Handler = ((event: never) => void) | null;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Frames queued by one side, read in order by the other. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: Waiter<T>[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#items.push(item);
    } else {
      waiter.resolve(item);
    }
  }

  next(timeoutMs = 2000): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) {
      return Promise.resolve(item);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing arrived within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject,
      });
    });
  }

  get pending(): readonly T[] {
    return this.#items;
  }
}

export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  /** What the client closed the socket with, if it did. */
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  readonly frames = new Inbox<ClientFrame>();

  constructor(
    readonly url: string,
    readonly protocols: string | string[] | undefined,
  ) {}

  // The client's side.

  send(data: Uint8Array): void {
    if (this.readyState !== 1) {
      throw new Error("send() on a socket that is not open");
    }
    this.frames.push(decodeFrame(data) as ClientFrame);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) {
      return;
    }
    this.closedWith = { code, reason };
    this.readyState = 3;
    queueMicrotask(() => this.#fire("onclose", { code: code ?? 1005, reason: reason ?? "" }));
  }

  // The server's side.

  /** Accept the connection, without HELLO yet. */
  open(): void {
    this.readyState = 1;
    this.#fire("onopen", {});
  }

  /** Accept the connection and send HELLO (with `settings` over the defaults). */
  accept(settings: Record<string, unknown> = {}): void {
    this.open();
    this.push({ type: FrameType.HELLO, id: 0, settings: { ...HELLO, ...settings } });
  }

  /** Deliver a frame to the client. */
  push(frame: Frame): void {
    this.pushBytes(encodeFrame(frame));
  }

  pushBytes(bytes: Uint8Array): void {
    const copy = bytes.slice().buffer;
    this.#fire("onmessage", { data: copy });
  }

  pushText(text: string): void {
    this.#fire("onmessage", { data: text });
  }

  /** The server closes (or the network drops) the connection. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.#fire("onerror", {});
    this.#fire("onclose", { code, reason });
  }

  /** The next frame the client sent. */
  next(timeoutMs?: number): Promise<ClientFrame> {
    return this.frames.next(timeoutMs);
  }

  /** The next frame the client sent, which must be of `type`. */
  async expect<T extends ClientFrame["type"]>(type: T, timeoutMs?: number): Promise<Extract<ClientFrame, { type: T }>> {
    const frame = await this.next(timeoutMs);
    if (frame.type !== type) {
      throw new Error(`expected frame type ${type}, got ${JSON.stringify(frame, replacer)}`);
    }
    return frame as Extract<ClientFrame, { type: T }>;
  }

  #fire(name: "onopen" | "onmessage" | "onclose" | "onerror", event: object): void {
    const handler = this[name] as ((event: object) => void) | null;
    handler?.(event);
  }
}

function replacer(_: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** A server that hands each new socket to the test. */
export class FakeServer {
  readonly sockets = new Inbox<FakeSocket>();
  readonly all: FakeSocket[] = [];
  /** Called for each new socket; by default the test accepts it after `connection()`. */
  onSocket: ((socket: FakeSocket) => void) | undefined;

  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        server.all.push(this);
        if (server.onSocket === undefined) {
          server.sockets.push(this);
        } else {
          const socket = this;
          queueMicrotask(() => server.onSocket?.(socket));
        }
      }
    };
  }

  /** The next socket the client opens. */
  connection(timeoutMs?: number): Promise<FakeSocket> {
    return this.sockets.next(timeoutMs);
  }

  /** The next socket the client opens, accepted with HELLO. */
  async accept(settings: Record<string, unknown> = {}): Promise<FakeSocket> {
    const socket = await this.connection();
    socket.accept(settings);
    return socket;
  }
}
