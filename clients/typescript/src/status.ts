/**
 * The client's connection as a store a component can subscribe to (React's
 * `useSyncExternalStore`, a Svelte store, a Vue `shallowRef` fed by `subscribe`).
 *
 * Rules this module keeps:
 *
 * 1. `getSnapshot()` returns the same object until the status changes, so a component re-renders
 *    only on a change.
 * 2. The store listens to the client only while it has subscribers; without any, a snapshot is
 *    worked out from `client.state`.
 * 3. A 44xx close (or a refused dial reported by the client) is `refused`, with the server's
 *    reason in `error.message`: the client does not reconnect by itself after it.
 */

import type { Client } from "./client.js";
import type { CloseInfo, Settings } from "./connection.js";
import { Code, type SwillError } from "./errors.js";
import { closeError, refusalCode } from "./protocol.js";

/** Where a client's connection stands, for a status line or a banner. */
export type ConnectionStatus =
  | { readonly state: "idle" }
  | { readonly state: "connecting" }
  | { readonly state: "connected"; readonly settings: Settings }
  | {
      readonly state: "reconnecting";
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: SwillError | undefined;
    }
  /** The server refused the connection (close 44xx): `error.code` and `error.message` say why. */
  | { readonly state: "refused"; readonly error: SwillError }
  /** The client gave up reconnecting; the next call dials again. */
  | { readonly state: "offline"; readonly error: SwillError };

/** A subscribe-able view of a client's {@link ConnectionStatus}. */
export interface ConnectionStore {
  /** Call `listener` on every change; returns a function that stops. */
  subscribe(listener: () => void): () => void;
  /** The current status: the same object until it changes. */
  getSnapshot(): ConnectionStatus;
}

const REFUSALS: ReadonlySet<string> = new Set([
  Code.UNAUTHENTICATED,
  Code.PERMISSION_DENIED,
  Code.RESOURCE_EXHAUSTED,
  Code.FAILED_PRECONDITION,
]);

function fromClient(client: Client): ConnectionStatus {
  const settings = client.settings;
  if (client.state === "open" && settings !== undefined) {
    return { state: "connected", settings };
  }
  if (client.state === "reconnecting") {
    return { state: "reconnecting", attempt: 0, delayMs: 0, error: undefined };
  }
  return { state: client.state === "connecting" ? "connecting" : "idle" };
}

function refusedBy(error: SwillError): boolean {
  const cause = error.cause as Partial<CloseInfo> | undefined;
  return REFUSALS.has(error.code) && typeof cause?.code === "number" && refusalCode(cause.code) !== undefined;
}

/**
 * A store of `client`'s connection status.
 *
 * ```tsx
 * const store = connectionStatus(client);
 * const status = useSyncExternalStore(store.subscribe, store.getSnapshot);
 * if (status.state === "refused") return <p>Signed out: {status.error.message}</p>;
 * ```
 */
export function connectionStatus(client: Client): ConnectionStore {
  const listeners = new Set<() => void>();
  let snapshot: ConnectionStatus = fromClient(client);
  let detach: (() => void) | undefined;
  const set = (next: ConnectionStatus): void => {
    snapshot = next;
    for (const listener of [...listeners]) {
      listener();
    }
  };
  const attach = (): (() => void) => {
    const stops = [
      client.on("open", ({ settings }) => set({ state: "connected", settings })),
      client.on("reconnecting", ({ attempt, delayMs, error }) => set({ state: "reconnecting", attempt, delayMs, error })),
      client.on("close", (info) => {
        set(refusalCode(info.code) === undefined ? fromClient(client) : { state: "refused", error: closeError(info.code, info.reason) });
      }),
      client.on("error", ({ error }) => {
        if (refusedBy(error)) {
          set({ state: "refused", error });
        } else if (client.state === "idle" && snapshot.state !== "refused") {
          set({ state: "offline", error }); // a background reconnect gave up
        }
      }),
    ];
    return () => {
      for (const stop of stops) {
        stop();
      }
    };
  };
  return {
    subscribe(listener) {
      if (listeners.size === 0) {
        snapshot = fromClient(client);
        detach = attach();
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          detach?.();
          detach = undefined;
        }
      };
    },
    getSnapshot() {
      if (listeners.size === 0) {
        const current = fromClient(client);
        if (current.state !== snapshot.state) {
          snapshot = current;
        }
      }
      return snapshot;
    },
  };
}
