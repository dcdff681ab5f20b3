/**
 * The state of one call, as a table, with its flow-control credit (as in swill/_calls.py).
 * Sans-I/O: the protocol core (protocol.ts) keeps one per open call.
 *
 * Rules this module keeps:
 *
 * 1. Each half of a call moves through its own table: the request half (client → server) is OPEN
 *    until END_OF_STREAM; the response half goes IDLE → LEADING (METADATA) → STREAMING (DATA) →
 *    DONE (RESPONSE, END_OF_STREAM or ERROR). A move that is not in the table throws a
 *    `ProtocolViolation`, `local` when this side made it.
 * 2. Credit counts DATA frames only: `sendCredit` is what the client may still send, and
 *    `receiveCredit` what the server may still send before it must wait (`null`: no limit).
 */

import { FrameType, UNLIMITED } from "./frames.js";

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
