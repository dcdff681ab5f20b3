import { describe, expect, it } from "vitest";

import { retryDelayMs } from "../../src/backoff.js";

describe("retryDelayMs", () => {
  it("doubles from 100 ms, between half and all of each step", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 1))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 0))).toEqual([50, 100, 200, 400]);
    expect(retryDelayMs(2, 0.5)).toBe(150);
  });

  it("stops growing at the ceiling", () => {
    expect(retryDelayMs(30, 1)).toBe(5_000);
    expect(retryDelayMs(1000, 1)).toBe(5_000);
    expect(retryDelayMs(5, 1, { initialDelayMs: 10, maxDelayMs: 50, factor: 3 })).toBe(50);
    expect(retryDelayMs(2, 1, { initialDelayMs: 10, factor: 3 })).toBe(30);
  });

  it("is pure given the jitter, and jitters when not given one", () => {
    expect(retryDelayMs(3, 0.25)).toBe(retryDelayMs(3, 0.25));
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(5)));
    expect(delays.size).toBeGreaterThan(1);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(1600);
    }
  });

  it("treats attempt 0 like the first retry and clamps the jitter", () => {
    expect(retryDelayMs(0, 1)).toBe(100);
    expect(retryDelayMs(1, 7)).toBe(100);
    expect(retryDelayMs(1, -1)).toBe(50);
  });
});
