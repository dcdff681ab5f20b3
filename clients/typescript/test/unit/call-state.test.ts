import { describe, expect, it } from "vitest";

import { CallState, ProtocolViolation } from "../../src/call.js";
import { FrameType, UNLIMITED } from "../../src/frames.js";

describe("CallState", () => {
  it("walks the response half IDLE → LEADING → STREAMING → DONE", () => {
    const state = new CallState(1, 16, null);
    state.receive(FrameType.METADATA);
    expect(state.response).toBe("LEADING");
    state.receive(FrameType.DATA);
    state.receive(FrameType.DATA);
    expect(state.response).toBe("STREAMING");
    state.receive(FrameType.END_OF_STREAM);
    expect(state.done).toBe(true);
  });

  it.each([
    ["METADATA twice", [FrameType.METADATA, FrameType.METADATA]],
    ["RESPONSE after DATA", [FrameType.DATA, FrameType.RESPONSE]],
    ["METADATA after DATA", [FrameType.DATA, FrameType.METADATA]],
    ["anything after RESPONSE", [FrameType.RESPONSE, FrameType.DATA]],
    ["anything after ERROR", [FrameType.ERROR, FrameType.END_OF_STREAM]],
  ] as const)("refuses %s from the server", (_, frames) => {
    const state = new CallState(1, 16, null);
    const last = frames[frames.length - 1] as FrameType;
    for (const frame of frames.slice(0, -1)) {
      state.receive(frame);
    }
    const error = (() => {
      try {
        state.receive(last);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ProtocolViolation);
    expect((error as ProtocolViolation).local).toBe(false);
  });

  it("lets the client send DATA until END_OF_STREAM", () => {
    const state = new CallState(1, null, null);
    state.send(FrameType.DATA);
    state.send(FrameType.END_OF_STREAM);
    expect(state.request).toBe("DONE");
    expect(() => state.send(FrameType.DATA)).toThrow(/can't send DATA on call 1 in state DONE/);
    expect(() => state.send(FrameType.END_OF_STREAM)).toThrow(ProtocolViolation);
  });

  it("counts send credit and adds what the server grants", () => {
    const state = new CallState(1, 1, null);
    expect(state.canSendData()).toBe(true);
    state.send(FrameType.DATA);
    expect(state.canSendData()).toBe(false);
    expect(() => state.send(FrameType.DATA)).toThrow(/no credit/);
    state.granted(2);
    expect(state.sendCredit).toBe(2);
    state.granted(UNLIMITED);
    expect(state.sendCredit).toBeNull();
    state.send(FrameType.DATA);
    expect(state.canSendData()).toBe(true);
  });

  it("counts receive credit: the server may not go beyond the window", () => {
    const state = new CallState(1, 16, 2);
    state.receive(FrameType.DATA);
    state.receive(FrameType.DATA);
    expect(() => state.receive(FrameType.DATA)).toThrow(/beyond the granted credit/);
    state.grant(1);
    state.receive(FrameType.DATA);
    state.grant(UNLIMITED);
    expect(state.receiveCredit).toBeNull();
  });

  it("does not count credit without a window", () => {
    const state = new CallState(1, 16, null);
    for (let i = 0; i < 100; i++) {
      state.receive(FrameType.DATA);
    }
    state.grant(5);
    expect(state.receiveCredit).toBeNull();
  });
});
