/** Reconnection delays: exponential backoff with jitter, as a pure function. */

/** How the delay between connection attempts grows. */
export interface BackoffOptions {
  /** The delay before the first retry, before jitter (default 100 ms). */
  readonly initialDelayMs?: number;
  /** The ceiling, before jitter (default 5 s, as the Python client's `max_reconnect_delay`). */
  readonly maxDelayMs?: number;
  /** How much each retry multiplies the delay (default 2). */
  readonly factor?: number;
}

const DEFAULTS: Required<BackoffOptions> = { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2 };

/**
 * The delay before retry number `attempt` (1 for the first retry).
 *
 * The delay doubles (by `factor`) from `initialDelayMs` up to `maxDelayMs`, then `jitter` (a
 * number in [0, 1), `Math.random()` by default) spreads it over its upper half, so that clients
 * that lost the same server do not all come back at the same instant. Given `jitter`, the result
 * depends on the arguments only.
 */
export function retryDelayMs(attempt: number, jitter: number = Math.random(), options: BackoffOptions = {}): number {
  const { initialDelayMs, maxDelayMs, factor } = { ...DEFAULTS, ...options };
  const exponent = Math.max(0, attempt - 1);
  const ceiling = Math.min(maxDelayMs, initialDelayMs * factor ** exponent);
  const spread = Math.min(Math.max(jitter, 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * spread);
}
