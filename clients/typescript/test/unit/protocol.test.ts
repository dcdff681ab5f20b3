// The sans-I/O protocol core: frames in, events and frames out. No sockets, no timers.
import { describe, expect, it } from "vitest";

import { Code, SwillError } from "../../src/errors.js";
import { type ClientFrame, type Frame, FrameType, MAX_DEPTH, decodeFrame, encodeFrame, encodeValue } from "../../src/frames.js";
import { ClientProtocol, NO_DATA, type ProtocolEvent, closeError } from "../../src/protocol.js";

const HELLO = { version: 1, max_message_size: 1024, max_concurrent_calls: 2, client_window: 2, server: "t/1" };

function sent(protocol: ClientProtocol): ClientFrame[] {
  return protocol.dataToSend().map((bytes) => decodeFrame(bytes) as ClientFrame);
}

function feed(protocol: ClientProtocol, frame: Frame | unknown[]): readonly ProtocolEvent[] {
  const bytes = Array.isArray(frame) ? encodeValue(frame) : encodeFrame(frame);
  protocol.receiveData(bytes);
  return protocol.eventsReceived();
}

function greeted(): ClientProtocol {
  const protocol = new ClientProtocol();
  feed(protocol, [8, 0, HELLO]);
  return protocol;
}

function request(protocol: ClientProtocol, rpc = "f", data: unknown = 1, window: number | null = null): number {
  return protocol.sendRequest({ rpc, data, metadata: null, timeoutMs: undefined, window });
}

describe("sending", () => {
  it("gives growing ids and writes REQUEST with or without data", () => {
    const protocol = new ClientProtocol();
    expect(request(protocol, "add", [1, 2])).toBe(1);
    expect(protocol.sendRequest({ rpc: "total", data: NO_DATA, metadata: { a: 1 }, timeoutMs: 5, window: 4 })).toBe(2);
    expect(sent(protocol)).toEqual([
      { type: FrameType.REQUEST, id: 1, rpc: "add", metadata: null, options: null, data: [1, 2] },
      { type: FrameType.REQUEST, id: 2, rpc: "total", metadata: { a: 1 }, options: { timeout: 5, window: 4 } },
    ]);
  });

  it("sends AUTH as [12, 0, credentials]", () => {
    const protocol = new ClientProtocol();
    protocol.sendAuth({ token: "t" });
    expect(sent(protocol)).toEqual([{ type: FrameType.AUTH, id: 0, credentials: { token: "t" } }]);
  });

  it("counts send credit from client_window, the data in REQUEST included", () => {
    const protocol = greeted();
    const id = request(protocol, "total", 0);
    expect(protocol.canSendData(id)).toBe(true);
    protocol.sendData(id, 1);
    expect(protocol.canSendData(id)).toBe(false);
    expect(() => protocol.sendData(id, 2)).toThrow(/no credit/);
    expect(feed(protocol, [7, id, 3])).toEqual([{ type: "CreditGranted", id, n: 3 }]);
    protocol.sendData(id, 2);
    protocol.sendEnd(id);
    expect(protocol.canSendData(id)).toBe(false);
    expect(() => protocol.sendData(id, 3)).toThrow(SwillError);
  });

  it("refuses frames larger than the server's max_message_size, and the call goes on", () => {
    const protocol = greeted();
    expect(() => request(protocol, "f", "x".repeat(2000))).toThrow(/exceeds the server's max_message_size \(1024\)/);
    expect(protocol.nextId).toBe(1);
    const id = request(protocol, "total", NO_DATA);
    expect(() => protocol.sendData(id, "x".repeat(2000))).toThrow(/exceeds/);
    expect(protocol.canSendData(id)).toBe(true);
  });

  it("admits calls up to max_concurrent_calls and none after GOAWAY", () => {
    const protocol = greeted();
    request(protocol);
    expect(protocol.full).toBe(false);
    request(protocol);
    expect(protocol.full).toBe(true);
    expect(feed(protocol, [11, 0, "bye"])).toEqual([{ type: "GoAwayReceived", reason: "bye" }]);
    expect(protocol.accepting).toBe(false);
    expect(() => request(protocol)).toThrow(/takes no new calls/);
  });

  it("refuses to send on a call that is not open", () => {
    const protocol = greeted();
    expect(() => protocol.sendData(7, 1)).toThrow(/call 7 is not open/);
    expect(() => protocol.sendEnd(7)).toThrow(/call 7 is not open/);
    expect(protocol.canSendData(7)).toBe(false);
  });

  it("sends CLOSE once and forgets the call; its frames are then ignored", () => {
    const protocol = greeted();
    const id = request(protocol);
    sent(protocol);
    protocol.sendClose(id, "bye");
    protocol.sendClose(id, "again");
    expect(sent(protocol)).toEqual([{ type: FrameType.CLOSE, id, reason: "bye" }]);
    expect(feed(protocol, [6, id, 3])).toEqual([]);
    protocol.grantCredit(id, 1);
    expect(sent(protocol)).toEqual([]);
  });
});

describe("receiving", () => {
  it("reports HELLO's settings, defaults for what is missing", () => {
    const protocol = new ClientProtocol();
    expect(protocol.helloReceived).toBe(false);
    const [event] = feed(protocol, [8, 0, { max_message_size: 10, extra: true }]);
    expect(event).toMatchObject({ type: "HelloReceived", settings: { maxMessageSize: 10, clientWindow: 16 } });
    expect(protocol.helloReceived).toBe(true);
  });

  it("walks a unary call: RESPONSE ends it", () => {
    const protocol = greeted();
    const id = request(protocol);
    expect(feed(protocol, [6, id, 3, { a: 1 }])).toEqual([
      { type: "ResponseReceived", id, data: 3, leading: { a: 1 }, trailing: {} },
    ]);
    expect(protocol.isOpen(id)).toBe(false);
  });

  it("walks a stream: METADATA, DATA, END_OF_STREAM", () => {
    const protocol = greeted();
    const id = request(protocol, "count", 2, 2);
    expect([...feed(protocol, [2, id, { m: 1 }]), ...feed(protocol, [1, id, 0]), ...feed(protocol, [3, id, { t: 2 }])]).toEqual([
      { type: "MetadataReceived", id, metadata: { m: 1 } },
      { type: "MessageReceived", id, data: 0 },
      { type: "EndOfStream", id, metadata: { t: 2 } },
    ]);
    expect(protocol.openCalls).toBe(0);
  });

  it("reports ERROR on a call and on id 0", () => {
    const protocol = greeted();
    const id = request(protocol);
    const [onCall] = feed(protocol, [5, id, "NOT_FOUND", "no", { x: 1 }, { m: 1 }]);
    expect(onCall).toMatchObject({ type: "ErrorReceived", id, error: { code: Code.NOT_FOUND, data: { x: 1 } } });
    const [onConnection] = feed(protocol, [5, 0, "INVALID_ARGUMENT", "bad"]);
    expect(onConnection).toMatchObject({ type: "ErrorReceived", id: 0, error: { code: Code.INVALID_ARGUMENT } });
  });

  it("fails a call on a move its table does not allow, and sends CLOSE", () => {
    const protocol = greeted();
    const id = request(protocol);
    sent(protocol);
    feed(protocol, [1, id, 0]);
    const [event] = feed(protocol, [6, id, 1]); // RESPONSE after DATA
    expect(event).toMatchObject({ type: "CallFailed", id, error: { code: Code.INTERNAL } });
    const [close] = sent(protocol);
    expect(close).toMatchObject({ type: FrameType.CLOSE, id });
    expect(feed(protocol, [6, id, 1])).toEqual([]);
  });

  it("fails a call whose server goes beyond the window", () => {
    const protocol = greeted();
    const id = request(protocol, "count", 9, 1);
    feed(protocol, [1, id, 0]);
    const [event] = feed(protocol, [1, id, 1]);
    expect(event).toMatchObject({ type: "CallFailed", error: { message: expect.stringMatching(/beyond the granted credit/) } });
  });

  it("ignores frames for calls that are not open, and extension frames", () => {
    const protocol = greeted();
    expect(feed(protocol, [2 ** 40, 1])).toEqual([]);
    expect(feed(protocol, [1, 7, 0])).toEqual([]);
    expect(feed(protocol, [3, 7])).toEqual([]);
    expect(feed(protocol, [7, 7, 1])).toEqual([]);
    expect(feed(protocol, [40, 1, "x"])).toEqual([]);
    expect(sent(protocol)).toEqual([]);
  });

  it("reports PONG", () => {
    expect(feed(greeted(), [10, 3])).toEqual([{ type: "PongReceived", nonce: 3 }]);
  });
});

describe("closing", () => {
  it.each([
    [4401, Code.UNAUTHENTICATED],
    [4403, Code.PERMISSION_DENIED],
    [4429, Code.RESOURCE_EXHAUSTED],
    [4400, Code.FAILED_PRECONDITION],
    [4404, Code.FAILED_PRECONDITION],
    [4499, Code.FAILED_PRECONDITION],
    [1000, Code.UNAVAILABLE],
    [1001, Code.UNAVAILABLE],
    [1006, Code.UNAVAILABLE],
    [1012, Code.UNAVAILABLE],
    [4000, Code.UNAVAILABLE],
  ])("close %i fails every open call with %s", (code, expected) => {
    const protocol = greeted();
    const a = request(protocol);
    const b = request(protocol);
    protocol.receiveClose(code, "the reason");
    const events = protocol.eventsReceived();
    expect(events.map((e) => e.type)).toEqual(["CallFailed", "CallFailed", "ConnectionClosed"]);
    expect(events.map((e) => ("id" in e ? e.id : 0))).toEqual([a, b, 0]);
    for (const event of events) {
      expect(event).toMatchObject({
        error: { code: expected, message: expect.stringContaining("the reason"), data: { close_code: code } },
      });
    }
    expect(protocol.accepting).toBe(false);
    protocol.receiveClose(code, "twice");
    protocol.receiveData(encodeValue([6, a, 1]));
    expect(protocol.eventsReceived()).toEqual([]);
  });

  it("names a refusal without a reason by its code", () => {
    expect(closeError(4403, "").message).toBe("the server refused the connection (close code 4403)");
  });
});

describe("a hostile server", () => {
  function nested(depth: number, id = 1): Uint8Array {
    const bytes = new Uint8Array(depth + 4);
    bytes.set([0x93, 0x01, id], 0);
    bytes.fill(0x91, 3, 3 + depth);
    bytes[3 + depth] = 0xc0;
    return bytes;
  }

  function open(): [ClientProtocol, number] {
    const protocol = greeted();
    const id = request(protocol, "count", 1, 8);
    sent(protocol);
    return [protocol, id];
  }

  function failed(protocol: ClientProtocol, id: number, code: Code, message: RegExp): void {
    const events = protocol.eventsReceived();
    expect(events).toEqual([{ type: "CallFailed", id, error: expect.any(SwillError) }]);
    expect(events[0]).toMatchObject({ error: { code, message: expect.stringMatching(message) } });
    expect(sent(protocol)).toMatchObject([{ type: FrameType.CLOSE, id }]);
  }

  it("refuses a DATA nested deeper than MAX_DEPTH on its call, and takes one just within", () => {
    const [protocol, id] = open();
    protocol.receiveData(nested(MAX_DEPTH - 1, id));
    expect(protocol.eventsReceived()).toMatchObject([{ type: "MessageReceived", id }]);
    protocol.receiveData(nested(100_000, id));
    failed(protocol, id, Code.INTERNAL, /nested deeper than 256/);
  });

  it("reports deep nesting with no readable id on id 0", () => {
    const protocol = greeted();
    const bytes = new Uint8Array(1_000_001).fill(0x91);
    protocol.receiveData(bytes);
    expect(protocol.eventsReceived()).toMatchObject([{ type: "ErrorReceived", id: 0, error: { code: Code.INTERNAL } }]);
  });

  it.each([
    ["2^53", [1, 2 ** 53, 0]],
    ["2^64 - 1", [1, 2n ** 64n - 1n, 0]],
    ["a negative id", [1, -1, 0]],
    ["id 0 on DATA", [1, 0, 0]],
    ["a float id", [1, 1.5, 0]],
  ])("reports an id of %s on id 0, disturbing no call", (_, frame) => {
    const [protocol, id] = open();
    protocol.receiveData(encodeValue(frame));
    expect(protocol.eventsReceived()).toMatchObject([{ type: "ErrorReceived", id: 0 }]);
    expect(protocol.isOpen(id)).toBe(true);
  });

  it("fails the call a message larger than the client's limit names, unread", () => {
    const protocol = new ClientProtocol(64);
    feed(protocol, [8, 0, HELLO]);
    const id = request(protocol, "count", 1, 8);
    sent(protocol);
    protocol.receiveData(encodeValue([1, id, "x".repeat(100)]));
    failed(protocol, id, Code.RESOURCE_EXHAUSTED, /100|exceeds the client's limit \(64\)/);
    protocol.receiveData(encodeValue([1, 2 ** 40, "x".repeat(100)]));
    expect(protocol.eventsReceived()).toMatchObject([{ type: "ErrorReceived", id: 0, error: { code: Code.RESOURCE_EXHAUSTED } }]);
  });

  it.each([
    ["a truncated frame", Uint8Array.from([0x93, 0x01, 0x01, 0xa5, 0x61])],
    ["an array claiming 2^32 - 1 items", Uint8Array.from([0x93, 0x01, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff])],
    ["a string claiming 4 GiB", Uint8Array.from([0x93, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff])],
    ["a map claiming 2^32 - 1 entries", Uint8Array.from([0x93, 0x01, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff])],
    ["trailing bytes", Uint8Array.from([0x93, 0x01, 0x01, 0x01, 0x01])],
    ["a reserved byte", Uint8Array.from([0x93, 0x01, 0x01, 0xc1])],
  ])("fails the call named by %s", (_, bytes) => {
    const [protocol, id] = open();
    protocol.receiveData(bytes);
    failed(protocol, id, Code.INTERNAL, /protocol violation/);
  });

  it.each([
    ["HELLO whose settings are not a map", encodeValue([8, 0, [1]])],
    ["METADATA that is not a map", encodeValue([2, 99, "x"])],
    ["empty bytes", new Uint8Array()],
    ["not an array", encodeValue({ a: 1 })],
    ["a type that is a string", encodeValue(["DATA", 1])],
    ["a text message", "hello"],
  ])("reports %s on id 0", (_, message) => {
    const [protocol, id] = open();
    if (typeof message === "string") {
      protocol.receiveText(message);
    } else {
      protocol.receiveData(message);
    }
    expect(protocol.eventsReceived()).toMatchObject([{ type: "ErrorReceived", id: 0, error: { code: Code.INTERNAL } }]);
    expect(protocol.isOpen(id)).toBe(true);
  });

  it("fails the call a client-only frame names", () => {
    const [protocol, id] = open();
    protocol.receiveData(encodeValue([4, id, null]));
    failed(protocol, id, Code.INTERNAL, /unexpected frame type 4/);
    protocol.receiveData(encodeValue([12, 0, "x"]));
    expect(protocol.eventsReceived()).toMatchObject([{ type: "ErrorReceived", id: 0 }]);
  });

  it("ignores frames for a call that never existed", () => {
    const [protocol] = open();
    for (const frame of [
      [1, 99, 0],
      [6, 99, 0],
      [3, 99],
      [5, 99, "INTERNAL", "x"],
      [2, 99, {}],
    ]) {
      protocol.receiveData(encodeValue(frame));
    }
    expect(protocol.eventsReceived()).toEqual([]);
  });

  it("never throws, whatever bytes arrive", () => {
    const protocol = greeted();
    request(protocol, "count", 1, 8);
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 24) }, () => Math.floor(random() * 256));
      bytes[0] = 0x90 + Math.floor(random() * 6);
      expect(() => protocol.receiveData(bytes)).not.toThrow();
    }
    expect(protocol.eventsReceived().length).toBeGreaterThan(0);
  });
});
