// Waiting on promises and client events in tests.
import { expect } from "vitest";

import type { Client, ClientEventMap } from "../../src/client.js";
import { SwillError } from "../../src/errors.js";

/** The SwillError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<SwillError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SwillError);
    return error as SwillError;
  }
  throw new Error("expected the promise to reject");
}

/** The next `event` of `client`. */
export function once<K extends keyof ClientEventMap>(client: Client, event: K): Promise<ClientEventMap[K]> {
  return new Promise((resolve) => {
    const stop = client.on(event, (payload) => {
      stop();
      resolve(payload);
    });
  });
}
