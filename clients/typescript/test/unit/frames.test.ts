import { describe, expect, it } from "vitest";

import {
  FrameError,
  FrameType,
  MAX_ID,
  decodeFrame,
  decodeValue,
  encodeFrame,
  encodeValue,
  frameTypeName,
} from "../../src/frames.js";
import { fixtures, fromHex, hex, toFrame } from "../helpers/fixtures.js";

describe("shared fixtures", () => {
  it("cover every frame type, with and without optional fields", () => {
    const types = new Set(fixtures.flatMap((f) => (f.frame === null ? [] : [f.frame["type"]])));
    expect([...types].sort()).toEqual(Object.keys(FrameType).sort());
    expect(fixtures.some((f) => !f.canonical)).toBe(true);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))("decodes %s", (_, fixture) => {
    const frame = decodeFrame(fromHex(fixture.hex));
    expect(frame).toEqual(fixture.frame === null ? null : toFrame(fixture.frame));
  });

  const canonical = fixtures.filter((f) => f.canonical && f.frame !== null);
  it.each(canonical.map((f) => [f.name, f] as const))("encodes %s to the same bytes", (_, fixture) => {
    expect(hex(encodeFrame(toFrame(fixture.frame as Record<string, unknown>)))).toBe(fixture.hex);
  });
});

describe("REQUEST data", () => {
  it("absent data ends the array, null is nil", () => {
    const head = { type: FrameType.REQUEST, id: 7, rpc: "f", metadata: null, options: null } as const;
    expect(hex(encodeFrame(head))).toBe("950007a166c0c0");
    expect(hex(encodeFrame({ ...head, data: null }))).toBe("960007a166c0c0c0");
    expect(decodeFrame(fromHex("960007a166c0c0c0"))).toHaveProperty("data", null);
    expect(decodeFrame(fromHex("950007a166c0c0"))).not.toHaveProperty("data");
  });
});

describe("values", () => {
  it("keeps safe integers beyond 32 bits integers", () => {
    expect(hex(encodeValue(2 ** 40))).toBe("cf0000010000000000");
    expect(hex(encodeValue(-(2 ** 40)))).toBe("d3ffffff0000000000");
    expect(decodeValue(fromHex("cf0000010000000000"))).toBe(2 ** 40);
  });

  it("reads integers beyond 2^53 as bigint and safe ones as number", () => {
    expect(decodeValue(encodeValue(2n ** 53n))).toBe(2n ** 53n);
    expect(decodeValue(encodeValue(-(2n ** 53n)))).toBe(-(2n ** 53n));
    expect(decodeValue(encodeValue(2n ** 53n - 1n))).toBe(MAX_ID);
    expect(decodeValue(encodeValue(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
  });

  it("writes a Map's entries, with keys of any type", () => {
    expect(hex(encodeValue(new Map<unknown, unknown>([[1, "a"], ["k", [2]]])))).toBe("8201a161a16b9102");
    expect(hex(encodeValue({ m: new Map() }))).toBe("81a16d80");
    const big = new Map(Array.from({ length: 16 }, (_, i) => [i, i] as const));
    expect(hex(encodeValue(big)).slice(0, 6)).toBe("de0010");
    expect(hex(encodeValue({ a: 1 }))).toBe("81a16101");
  });

  it("maps Uint8Array to bin and Date to the timestamp extension", () => {
    expect(hex(encodeValue(new Uint8Array([1, 2])))).toBe("c4020102");
    const date = new Date("2024-01-02T03:04:05.123Z");
    expect(hex(encodeValue(date))).toBe("d7ff1d53530065937d25");
    expect(decodeValue(encodeValue(date))).toEqual(date);
  });

  it("writes undefined as nil", () => {
    expect(hex(encodeValue([undefined]))).toBe("91c0");
  });
});

describe("malformed frames", () => {
  const cases: [string, unknown, RegExp, number | undefined, number | undefined][] = [
    ["not an array", { a: 1 }, /not an array/, undefined, undefined],
    ["an empty array", [], /not an unsigned integer/, undefined, undefined],
    ["an unknown type below 32", [13, 1], /unknown frame type 13/, 13, 1],
    ["DATA without data", [1, 4], /malformed DATA frame: missing data/, 1, 4],
    ["id 0 on a call frame", [1, 0, "x"], /id must be an integer from 1/, 1, 0],
    ["an id beyond 2^53", [1, 2n ** 60n, "x"], /id must be an integer/, 1, undefined],
    ["a string rpc that is not", [0, 1, 5], /rpc must be a string/, 0, 1],
    ["metadata that is a list", [2, 1, [1]], /metadata must be a map/, 2, 1],
    ["a window of 0", [0, 1, "f", null, { window: 0 }], /options.window/, 0, 1],
    ["CREDIT of 0", [7, 1, 0], /n must be an integer/, 7, 1],
    ["HELLO on id 1", [8, 1, {}], /id must be 0/, 8, 1],
    ["an ERROR code that is a number", [5, 1, 3, "m"], /code must be a string/, 5, 1],
  ];
  it.each(cases)("refuses %s", (_, value, message, type, id) => {
    const error = catchError(() => decodeFrame(encodeValue(value)));
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).message).toMatch(message);
    expect((error as FrameError).type).toBe(type);
    expect((error as FrameError).id).toBe(id);
  });

  it("refuses bytes that are not MessagePack", () => {
    expect(() => decodeFrame(fromHex("c1"))).toThrow(FrameError);
    expect(() => decodeFrame(fromHex("9301"))).toThrow(/not a frame/);
  });

  it("ignores extension frames", () => {
    expect(decodeFrame(encodeValue([32, 1]))).toBeNull();
    expect(decodeFrame(encodeValue([2n ** 60n]))).toBeNull();
  });

  it("reads an unlimited credit beyond 2^53", () => {
    expect(decodeFrame(encodeValue([7, 1, 2n ** 63n]))).toEqual({ type: FrameType.CREDIT, id: 1, n: 2 ** 31 - 1 });
  });

  it("names frame types", () => {
    expect(frameTypeName(3)).toBe("END_OF_STREAM");
    expect(frameTypeName(13)).toBeUndefined();
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
