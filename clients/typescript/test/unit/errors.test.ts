import { describe, expect, it } from "vitest";

import { Code, SwillError, abortError, parseCode } from "../../src/errors.js";

describe("SwillError", () => {
  it("carries code, message, data and metadata", () => {
    const error = new SwillError("NOT_FOUND", "no such user", { data: { id: 1 }, metadata: { k: "v" } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("SwillError");
    expect([error.code, error.message, error.data, error.metadata]).toEqual(["NOT_FOUND", "no such user", { id: 1 }, { k: "v" }]);
    expect(new SwillError(Code.INTERNAL).metadata).toEqual({});
    expect(new SwillError(Code.INTERNAL).data).toBeNull();
    expect(String(new SwillError(Code.INTERNAL))).toBe("SwillError: [INTERNAL]");
  });

  it("reads unknown codes as UNKNOWN", () => {
    expect(new SwillError("TEAPOT", "x").code).toBe(Code.UNKNOWN);
    expect(parseCode("DATA_LOSS")).toBe(Code.DATA_LOSS);
  });

  describe("from()", () => {
    it("returns a SwillError as it is", () => {
      const error = new SwillError(Code.ABORTED, "x");
      expect(SwillError.from(error)).toBe(error);
    });

    it("makes an aborted signal's reason CANCELLED", () => {
      const controller = new AbortController();
      controller.abort();
      const error = SwillError.from(controller.signal.reason);
      expect(error.code).toBe(Code.CANCELLED);
      expect(error.cause).toBe(controller.signal.reason);
    });

    it("gives other errors the code asked for, UNKNOWN by default", () => {
      const cause = new TypeError("boom");
      expect(SwillError.from(cause)).toMatchObject({ code: Code.UNKNOWN, message: "boom", cause });
      expect(SwillError.from(cause, Code.UNAVAILABLE).code).toBe(Code.UNAVAILABLE);
      expect(SwillError.from("text").message).toBe("text");
      expect(SwillError.from(undefined).message).toBe("");
    });
  });

  it("turns any abort of a signal into CANCELLED unless its reason is a SwillError", () => {
    const controller = new AbortController();
    controller.abort("just because");
    expect(abortError(controller.signal)).toMatchObject({ code: Code.CANCELLED, message: "the call was aborted" });
    const timeout = new AbortController();
    timeout.abort(new DOMException("timed out", "TimeoutError"));
    expect(abortError(timeout.signal)).toMatchObject({ code: Code.CANCELLED, message: "timed out" });
    const own = new AbortController();
    own.abort(new SwillError(Code.DEADLINE_EXCEEDED, "mine"));
    expect(abortError(own.signal).code).toBe(Code.DEADLINE_EXCEEDED);
  });
});
