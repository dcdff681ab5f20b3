/**
 * Frames of docs/protocol.md, "Frames": encoding and decoding. Knows no WebSocket.
 *
 * Rules this module keeps:
 *
 * 1. A frame is one MessagePack array `[type, id, ...]`. Outgoing frames are written with every
 *    field, `nil` for an absent optional one, exactly as the Python peer (msgspec) writes them, so
 *    both peers produce the same bytes (tests/fixtures/frames.json checks it). The one exception is
 *    `data` in REQUEST: an absent `data` ends the array (no data), `null` is written as `nil`.
 * 2. Incoming frames may omit trailing optional fields; an omitted field and `nil` read the same.
 * 3. Values are written and read as values.ts says (bin, timestamps, 64-bit integers).
 * 4. Whatever bytes arrive, {@link decodeFrame} either returns a frame or throws `FrameError`:
 *    truncated bytes, absurd lengths, arrays and maps nested deeper than {@link MAX_DEPTH} and
 *    ids outside 1 … 2^53 − 1 are all malformed frames, never another exception.
 */

import { MAX_DEPTH, decodeValue, encodeValue } from "./values.js";

export { MAX_DEPTH, decodeValue, encodeValue };

/** The frame types of protocol version 1. */
export const FrameType = {
  REQUEST: 0,
  DATA: 1,
  METADATA: 2,
  END_OF_STREAM: 3,
  CLOSE: 4,
  ERROR: 5,
  RESPONSE: 6,
  CREDIT: 7,
  HELLO: 8,
  PING: 9,
  PONG: 10,
  GOAWAY: 11,
  AUTH: 12,
} as const;

/** One of the numbers in {@link FrameType}. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** The name of a frame type, e.g. `"END_OF_STREAM"`. */
export type FrameTypeName = keyof typeof FrameType;

const NAMES: readonly FrameTypeName[] = Object.keys(FrameType) as FrameTypeName[];

/** The name of frame type `type`, or `undefined` for a number outside version 1. */
export function frameTypeName(type: number): FrameTypeName | undefined {
  return NAMES[type];
}

/** The largest call id: ids stay exact in JavaScript numbers. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A credit of this much or more means no limit (docs/protocol.md, "Flow control"). */
export const UNLIMITED = 2 ** 31 - 1;


/** Frame types from here on are extensions that a peer which does not know them ignores. */
export const EXTENSION_TYPES = 32;

/** Metadata: string keys, any MessagePack value. */
export type Metadata = Record<string, unknown>;

/** REQUEST options (docs/protocol.md, "Frames"). */
export interface RequestOptions {
  /** The call's deadline in milliseconds, from when the server receives REQUEST. */
  readonly timeout?: number;
  /** How many DATA frames the server may send before the client grants more. */
  readonly window?: number;
}

/** `[0, id, rpc, metadata?, options?, data?]`; `data` absent means the REQUEST carries none. */
export interface RequestFrame {
  readonly type: typeof FrameType.REQUEST;
  readonly id: number;
  readonly rpc: string;
  readonly metadata: Metadata | null;
  readonly options: RequestOptions | null;
  readonly data?: unknown;
}

/** `[1, id, data]` */
export interface DataFrame {
  readonly type: typeof FrameType.DATA;
  readonly id: number;
  readonly data: unknown;
}

/** `[2, id, metadata]` */
export interface MetadataFrame {
  readonly type: typeof FrameType.METADATA;
  readonly id: number;
  readonly metadata: Metadata | null;
}

/** `[3, id, metadata?]` */
export interface EndOfStreamFrame {
  readonly type: typeof FrameType.END_OF_STREAM;
  readonly id: number;
  readonly metadata: Metadata | null;
}

/** `[4, id, reason?]` */
export interface CloseFrame {
  readonly type: typeof FrameType.CLOSE;
  readonly id: number;
  readonly reason: string | null;
}

/** `[5, id, code, message, data?, metadata?]`; id 0 is about the connection. */
export interface ErrorFrame {
  readonly type: typeof FrameType.ERROR;
  readonly id: number;
  readonly code: string;
  readonly message: string;
  readonly data: unknown;
  readonly metadata: Metadata | null;
}

/** `[6, id, data, leading?, trailing?]` */
export interface ResponseFrame {
  readonly type: typeof FrameType.RESPONSE;
  readonly id: number;
  readonly data: unknown;
  readonly leading: Metadata | null;
  readonly trailing: Metadata | null;
}

/** `[7, id, n]` */
export interface CreditFrame {
  readonly type: typeof FrameType.CREDIT;
  readonly id: number;
  /** At least 1; {@link UNLIMITED} or more lifts the limit. */
  readonly n: number;
}

/** `[8, 0, settings]` */
export interface HelloFrame {
  readonly type: typeof FrameType.HELLO;
  readonly id: 0;
  readonly settings: Record<string, unknown>;
}

/** `[9, nonce]` */
export interface PingFrame {
  readonly type: typeof FrameType.PING;
  readonly nonce: number;
}

/** `[10, nonce]` */
export interface PongFrame {
  readonly type: typeof FrameType.PONG;
  readonly nonce: number;
}

/** `[11, 0, reason?]` */
export interface GoAwayFrame {
  readonly type: typeof FrameType.GOAWAY;
  readonly id: 0;
  readonly reason: string | null;
}

/** `[12, 0, credentials]`: any MessagePack value (docs/protocol.md, "Credentials"). */
export interface AuthFrame {
  readonly type: typeof FrameType.AUTH;
  readonly id: 0;
  readonly credentials: unknown;
}

/** Any frame of version 1. */
export type Frame =
  | RequestFrame
  | DataFrame
  | MetadataFrame
  | EndOfStreamFrame
  | CloseFrame
  | ErrorFrame
  | ResponseFrame
  | CreditFrame
  | HelloFrame
  | PingFrame
  | PongFrame
  | GoAwayFrame
  | AuthFrame;

/** The frames a client sends. */
export type ClientFrame =
  | RequestFrame
  | DataFrame
  | EndOfStreamFrame
  | CloseFrame
  | CreditFrame
  | PingFrame
  | AuthFrame;

/** The frames a server sends. */
export type ServerFrame =
  | DataFrame
  | MetadataFrame
  | EndOfStreamFrame
  | ErrorFrame
  | ResponseFrame
  | CreditFrame
  | HelloFrame
  | PongFrame
  | GoAwayFrame;

/** A message that is not a frame this side can act on; says what it could still read. */
export class FrameError extends Error {
  override name = "FrameError";

  constructor(
    message: string,
    /** The frame type, when it could be read. */
    readonly type: number | undefined = undefined,
    /** The id (or nonce), when it could be read. */
    readonly id: number | undefined = undefined,
  ) {
    super(message);
  }
}


/**
 * Encode one frame. REQUEST ends before `data` when the frame has no `data` property.
 *
 * Throws when a value can't be written as MessagePack.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  return encodeValue(frameToArray(frame));
}

function frameToArray(frame: Frame): unknown[] {
  switch (frame.type) {
    case FrameType.REQUEST: {
      const head = [frame.type, frame.id, frame.rpc, frame.metadata, options(frame.options)];
      return "data" in frame ? [...head, frame.data] : head;
    }
    case FrameType.DATA:
      return [frame.type, frame.id, frame.data];
    case FrameType.METADATA:
    case FrameType.END_OF_STREAM:
      return [frame.type, frame.id, frame.metadata];
    case FrameType.CLOSE:
      return [frame.type, frame.id, frame.reason];
    case FrameType.ERROR:
      return [frame.type, frame.id, frame.code, frame.message, frame.data, frame.metadata];
    case FrameType.RESPONSE:
      return [frame.type, frame.id, frame.data, frame.leading, frame.trailing];
    case FrameType.CREDIT:
      return [frame.type, frame.id, Math.min(frame.n, UNLIMITED)];
    case FrameType.HELLO:
      return [frame.type, frame.id, frame.settings];
    case FrameType.PING:
    case FrameType.PONG:
      return [frame.type, frame.nonce];
    case FrameType.GOAWAY:
      return [frame.type, frame.id, frame.reason];
    case FrameType.AUTH:
      return [frame.type, frame.id, frame.credentials];
  }
}

// Known keys in a fixed order, absent ones left out (as msgspec's `omit_defaults` does).
function options(value: RequestOptions | null): Record<string, number> | null {
  if (value === null) {
    return null;
  }
  const out: Record<string, number> = {};
  if (value.timeout !== undefined) {
    out["timeout"] = value.timeout;
  }
  if (value.window !== undefined) {
    out["window"] = value.window;
  }
  return out;
}

/**
 * Decode one message into a frame of any type; `null` for an extension frame (type 32 and above).
 *
 * Which types a side accepts is the caller's business: this reads client and server frames alike.
 *
 * @throws FrameError The message is not a frame.
 */
export function decodeFrame(message: Uint8Array): Frame | null {
  let items: unknown;
  try {
    items = decodeValue(message);
  } catch (error) {
    throw new FrameError(`not a frame: ${String((error as Error | undefined)?.message ?? error)}`, ...peek(message));
  }
  if (!Array.isArray(items)) {
    throw new FrameError("not a frame: not an array");
  }
  const head: unknown = items[0];
  if (!isUint(head)) {
    throw new FrameError("not a frame: the type is not an unsigned integer");
  }
  if (head >= EXTENSION_TYPES) {
    return null;
  }
  const type = Number(head);
  const id = isUint(items[1]) && typeof items[1] === "number" ? items[1] : undefined;
  const name = frameTypeName(type);
  if (name === undefined) {
    throw new FrameError(`unknown frame type ${type}`, type, id);
  }
  try {
    return readFrame(type as FrameType, new Fields(items));
  } catch (error) {
    throw new FrameError(`malformed ${name} frame: ${(error as Error).message}`, type, id);
  }
}

/**
 * The type and id at the head of a message whose whole could not be read (truncated, too deep,
 * too large), when they can be: `[type, id]`, either `undefined`.
 */
export function peek(message: Uint8Array): [number | undefined, number | undefined] {
  const head = message[0];
  if (head === undefined || head < 0x92 || head > 0x9f) {
    // fixarray of 2 .. 15 items; array 16/32 headers are followed by the same two items.
    if (head !== 0xdc && head !== 0xdd) {
      return [undefined, undefined];
    }
  }
  let at = head === 0xdc ? 3 : head === 0xdd ? 5 : 1;
  const type = message[at];
  if (type === undefined || type > 0x7f) {
    return [undefined, undefined];
  }
  at += 1;
  const id = readUint(message, at);
  return [type, id === undefined || id < 1 || id > MAX_ID ? undefined : id];
}

// A positive fixint or uint 8/16/32/64 at `at`.
function readUint(bytes: Uint8Array, at: number): number | undefined {
  const head = bytes[at];
  if (head === undefined) {
    return undefined;
  }
  if (head <= 0x7f) {
    return head;
  }
  const sizes: Record<number, number> = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8 };
  const size = sizes[head];
  if (size === undefined || bytes.length < at + 1 + size) {
    return undefined;
  }
  let value = 0;
  for (let i = 1; i <= size; i++) {
    value = value * 256 + (bytes[at + i] as number);
  }
  return value;
}

function readFrame(type: FrameType, f: Fields): Frame {
  switch (type) {
    case FrameType.REQUEST: {
      const head = {
        type,
        id: f.callId(1),
        rpc: f.string(2, "rpc"),
        metadata: f.metadata(3, "metadata"),
        options: f.options(4),
      };
      return f.has(5) ? { ...head, data: f.any(5) } : head;
    }
    case FrameType.DATA:
      return { type, id: f.callId(1), data: f.required(2, "data") };
    case FrameType.METADATA:
      return { type, id: f.callId(1), metadata: f.metadata(2, "metadata", true) };
    case FrameType.END_OF_STREAM:
      return { type, id: f.callId(1), metadata: f.metadata(2, "metadata") };
    case FrameType.CLOSE:
      return { type, id: f.callId(1), reason: f.optionalString(2, "reason") };
    case FrameType.ERROR:
      return {
        type,
        id: f.id(1, 0),
        code: f.string(2, "code"),
        message: f.string(3, "message"),
        data: f.any(4),
        metadata: f.metadata(5, "metadata"),
      };
    case FrameType.RESPONSE:
      return {
        type,
        id: f.callId(1),
        data: f.required(2, "data"),
        leading: f.metadata(3, "leading"),
        trailing: f.metadata(4, "trailing"),
      };
    case FrameType.CREDIT:
      return { type, id: f.callId(1), n: f.credit(2) };
    case FrameType.HELLO:
      return { type, id: f.zero(1), settings: f.map(2, "settings") };
    case FrameType.PING:
    case FrameType.PONG:
      return { type, nonce: f.nonce(1) };
    case FrameType.GOAWAY:
      return { type, id: f.zero(1), reason: f.optionalString(2, "reason") };
    case FrameType.AUTH:
      return { type, id: f.zero(1), credentials: f.required(2, "credentials") };
  }
}

class FieldError extends Error {}

/** Reads positional fields, checking their types. */
class Fields {
  constructor(private readonly items: unknown[]) {}

  has(index: number): boolean {
    return this.items.length > index;
  }

  any(index: number): unknown {
    return this.has(index) ? this.items[index] : null;
  }

  required(index: number, field: string): unknown {
    if (!this.has(index)) {
      throw new FieldError(`missing ${field}`);
    }
    return this.items[index];
  }

  id(index: number, min: number): number {
    const value = this.required(index, "id");
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > MAX_ID) {
      throw new FieldError(`id must be an integer from ${min} to 2^53 - 1`);
    }
    return value;
  }

  callId(index: number): number {
    return this.id(index, 1);
  }

  zero(index: number): 0 {
    if (this.id(index, 0) !== 0) {
      throw new FieldError("id must be 0");
    }
    return 0;
  }

  nonce(index: number): number {
    const value = this.required(index, "nonce");
    if (!isUint(value)) {
      throw new FieldError("nonce must be an unsigned integer");
    }
    return Number(value);
  }

  credit(index: number): number {
    const value = this.required(index, "n");
    if (!isUint(value) || value < 1) {
      throw new FieldError("n must be an integer of at least 1");
    }
    return typeof value === "bigint" || value > UNLIMITED ? UNLIMITED : value;
  }

  string(index: number, field: string): string {
    const value = this.required(index, field);
    if (typeof value !== "string") {
      throw new FieldError(`${field} must be a string`);
    }
    return value;
  }

  optionalString(index: number, field: string): string | null {
    const value = this.any(index);
    if (value !== null && typeof value !== "string") {
      throw new FieldError(`${field} must be a string or nil`);
    }
    return value;
  }

  map(index: number, field: string): Record<string, unknown> {
    const value = this.required(index, field);
    if (!isMap(value)) {
      throw new FieldError(`${field} must be a map`);
    }
    return value;
  }

  metadata(index: number, field: string, required = false): Metadata | null {
    const value = required ? this.required(index, field) : this.any(index);
    if (value !== null && !isMap(value)) {
      throw new FieldError(`${field} must be a map or nil`);
    }
    return value;
  }

  options(index: number): RequestOptions | null {
    const value = this.any(index);
    if (value === null) {
      return null;
    }
    if (!isMap(value)) {
      throw new FieldError("options must be a map or nil");
    }
    const out: { timeout?: number; window?: number } = {};
    const { timeout, window } = value;
    if (timeout !== undefined && timeout !== null) {
      if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0) {
        throw new FieldError("options.timeout must be an integer of at least 0");
      }
      out.timeout = timeout;
    }
    if (window !== undefined && window !== null) {
      if (typeof window !== "number" || !Number.isInteger(window) || window < 1) {
        throw new FieldError("options.window must be an integer of at least 1");
      }
      out.window = window;
    }
    return out;
  }
}

function isUint(value: unknown): value is number | bigint {
  return (typeof value === "number" && Number.isInteger(value) && value >= 0) || (typeof value === "bigint" && value >= 0n);
}

// A decoded MessagePack map is a plain object; arrays, bytes, dates and extension data are not.
function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
