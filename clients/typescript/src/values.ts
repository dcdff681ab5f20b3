/**
 * MessagePack values as frames carry them: @msgpack/msgpack, set up for Swill. Knows no frames.
 *
 * Rules this module keeps:
 *
 * 1. `Uint8Array` ↔ bin, `Date` ↔ timestamp extension, integers as the smallest int or uint format
 *    (also between 2^32 and 2^53, which the library would write as float64), integers beyond
 *    ±2^53 read as `bigint` (safe ones as `number`), a `Map` written with its entries.
 * 2. Reading never goes deeper than {@link MAX_DEPTH} arrays and maps: deeper input throws, like
 *    truncated bytes or absurd lengths do.
 */

import { Decoder, Encoder } from "@msgpack/msgpack";

/**
 * How deep a received message may nest arrays and maps, the frame's own array included. The
 * decoder is iterative, so deeper ones would decode, but then break whatever walks them
 * recursively (the encoder stops at 100 levels, `JSON.stringify` at a few thousand).
 */
export const MAX_DEPTH = 256;

// @msgpack/msgpack, set up for Swill. With `useBigInt64` it writes bigint as int64/uint64 and reads
// every 64-bit integer as bigint, but also writes safe integers beyond 32 bits as float64. The two
// methods below (internal to the library; pinned by the fixture tests) make it write those as
// integers and read 64-bit integers that are exact in a number as numbers.
interface EncoderInternals {
  encodeNumber(value: number): void;
  encodeBigInt64(value: bigint): void;
  encodeMap(value: object, depth: number): void;
  doEncode(value: unknown, depth: number): void;
  writeU8(value: number): void;
  writeU16(value: number): void;
  writeU32(value: number): void;
}

interface DecoderInternals {
  readU64AsBigInt(): bigint | number;
  readI64AsBigInt(): bigint | number;
  pushArrayState(size: number): void;
  pushMapState(size: number): void;
  readonly stack: { readonly length: number };
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function createEncoder(): Encoder {
  const encoder = new Encoder({ useBigInt64: true });
  const internals = encoder as unknown as EncoderInternals;
  const encodeNumber = internals.encodeNumber.bind(encoder);
  const encodeBigInt64 = internals.encodeBigInt64.bind(encoder);
  internals.encodeBigInt64 = (value: bigint): void => {
    // DataView would silently wrap a bigint outside 64 bits.
    if (value < INT64_MIN || value > UINT64_MAX) {
      throw new RangeError(`${value} does not fit in a 64-bit MessagePack integer`);
    }
    encodeBigInt64(value);
  };
  internals.encodeNumber = (value: number): void => {
    if (Number.isSafeInteger(value) && (value >= 0x1_0000_0000 || value < -0x8000_0000)) {
      internals.encodeBigInt64(BigInt(value));
    } else {
      encodeNumber(value);
    }
  };
  // The library writes a `Map` as an empty map (it only walks own string keys). Write its
  // entries, with keys of any type, so that `dict[int, V]` and the like can be sent.
  const encodeMap = internals.encodeMap.bind(encoder);
  internals.encodeMap = (value: object, depth: number): void => {
    if (!(value instanceof Map)) {
      encodeMap(value, depth);
      return;
    }
    const size = value.size;
    if (size < 16) {
      internals.writeU8(0x80 + size);
    } else if (size < 0x10000) {
      internals.writeU8(0xde);
      internals.writeU16(size);
    } else {
      internals.writeU8(0xdf);
      internals.writeU32(size);
    }
    for (const [key, item] of value) {
      internals.doEncode(key, depth + 1);
      internals.doEncode(item, depth + 1);
    }
  };
  return encoder;
}

function createDecoder(): Decoder {
  const decoder = new Decoder({ useBigInt64: true });
  const internals = decoder as unknown as DecoderInternals;
  const readU64 = internals.readU64AsBigInt.bind(decoder);
  const readI64 = internals.readI64AsBigInt.bind(decoder);
  internals.readU64AsBigInt = () => narrow(readU64() as bigint);
  internals.readI64AsBigInt = () => narrow(readI64() as bigint);
  // Each array or map being read is one entry on the decoder's stack: refuse to go deeper.
  const pushArray = internals.pushArrayState.bind(decoder);
  const pushMap = internals.pushMapState.bind(decoder);
  const deeper = (): void => {
    if (internals.stack.length >= MAX_DEPTH) {
      throw new RangeError(`nested deeper than ${MAX_DEPTH} levels`);
    }
  };
  internals.pushArrayState = (size: number): void => {
    deeper();
    pushArray(size);
  };
  internals.pushMapState = (size: number): void => {
    deeper();
    pushMap(size);
  };
  return decoder;
}

function narrow(value: bigint): bigint | number {
  return value <= SAFE && value >= -SAFE ? Number(value) : value;
}

const encoder = createEncoder();
const decoder = createDecoder();

/** Encode any value as MessagePack, the way frames carry it. */
export function encodeValue(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decode one MessagePack value. Throws on bytes that are not exactly one value. */
export function decodeValue(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
