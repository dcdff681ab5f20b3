/**
 * @private An in-memory `WebSocket` for `@swill/client/testing`: the client's end of a connection
 * whose other end is the test server's.
 *
 * Everything either side sends goes through one FIFO task queue ({@link later}), so frames keep
 * their order both ways and nothing is delivered inside the call that sent it.
 */

import type { WebSocketLike } from "./connection.js";

/** What the server's end of a connection takes from the socket. */
export interface SocketPeer {
  /** A message from the client. */
  receive(bytes: Uint8Array): void;
  /** The client closed the socket. */
  lost(): void;
}

/** The client's end of an in-memory connection; the server holds the other end, its `peer`. */
export class MemorySocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  /** @private The server's end. */
  peer: SocketPeer | undefined;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) {
      throw new Error("WebSocket is not open");
    }
    const copy = data.slice();
    const peer = this.peer;
    later(() => peer?.receive(copy));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) {
      return;
    }
    this.readyState = 2;
    this.peer?.lost();
    later(() => this.closedBy(code, reason));
  }

  /** @private */
  opened(): void {
    this.readyState = 1;
    (this.onopen as ((event: unknown) => void) | null)?.({ type: "open" });
  }

  /** @private A message from the server. */
  deliver(bytes: Uint8Array): void {
    if (this.readyState !== 1) {
      return;
    }
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    (this.onmessage as ((event: unknown) => void) | null)?.({ data });
  }

  /** @private The connection closed with `code`. */
  closedBy(code: number, reason: string): void {
    if (this.readyState === 3) {
      return;
    }
    this.readyState = 3;
    (this.onclose as ((event: unknown) => void) | null)?.({ code, reason, wasClean: code !== 1006 });
  }
}

// Everything either side sends goes through one FIFO queue, drained in a later task: frames keep
// their order both ways, and nothing is delivered inside the call that sent it.
const queue: (() => void)[] = [];
let scheduled = false;

export function later(step: () => void): void {
  queue.push(step);
  if (!scheduled) {
    scheduled = true;
    setTimeout(drain, 0);
  }
}

function drain(): void {
  scheduled = false;
  for (const step of queue.splice(0)) {
    try {
      step();
    } catch (error) {
      // Surface it as an uncaught error, without losing the frames after it.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
