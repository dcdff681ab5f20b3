/**
 * The one error a call fails with, and its codes (docs/protocol.md, "Error codes").
 *
 * ```
 * Error
 * └── SwillError    code, message, data, metadata
 * ```
 */

/** The canonical gRPC status names, as they travel on the wire. */
export const Code = {
  CANCELLED: "CANCELLED",
  UNKNOWN: "UNKNOWN",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  ABORTED: "ABORTED",
  OUT_OF_RANGE: "OUT_OF_RANGE",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
  DATA_LOSS: "DATA_LOSS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
} as const;

/** One of the codes in {@link Code}. */
export type Code = (typeof Code)[keyof typeof Code];

const CODES: ReadonlySet<string> = new Set(Object.values(Code));

/** The code named `value`, or `UNKNOWN` for a name this version does not know. */
export function parseCode(value: string): Code {
  return CODES.has(value) ? (value as Code) : Code.UNKNOWN;
}

/** Extra fields of a {@link SwillError}. */
export interface SwillErrorInit {
  /** Any value the server attached, e.g. a list of `{ path, message }` validation problems. */
  readonly data?: unknown;
  /** Trailing metadata of the failed call. */
  readonly metadata?: Record<string, unknown>;
  /** The error that led to this one. */
  readonly cause?: unknown;
}

/**
 * A call that failed: from an ERROR frame, a lost connection, a deadline or a cancellation.
 *
 * `message` is the server's message as it came; `toString()` prefixes the code.
 */
export class SwillError extends Error {
  override name = "SwillError";
  /** The canonical code. */
  readonly code: Code;
  /** What the server attached to the error (`null` when nothing). */
  readonly data: unknown;
  /** Trailing metadata of the failed call (`{}` when none). */
  readonly metadata: Record<string, unknown>;

  constructor(code: Code | string, message = "", init: SwillErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = parseCode(code);
    this.data = init.data ?? null;
    this.metadata = init.metadata ?? {};
  }

  override toString(): string {
    return this.message ? `${this.name}: [${this.code}] ${this.message}` : `${this.name}: [${this.code}]`;
  }

  /**
   * Turn any thrown value or abort reason into a `SwillError`.
   *
   * A `SwillError` is returned as it is; an `AbortError` (what an aborted `AbortSignal` carries
   * by default) becomes `CANCELLED`; anything else gets `code` (default `UNKNOWN`) and keeps the
   * original as `cause`.
   */
  static from(reason: unknown, code: Code = Code.UNKNOWN): SwillError {
    if (reason instanceof SwillError) {
      return reason;
    }
    if (isAbortError(reason)) {
      return new SwillError(Code.CANCELLED, reason.message || "the call was aborted", { cause: reason });
    }
    if (reason instanceof Error) {
      return new SwillError(code, reason.message, { cause: reason });
    }
    return new SwillError(code, reason === undefined ? "" : String(reason), { cause: reason });
  }
}

function isAbortError(reason: unknown): reason is Error {
  return (
    typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "AbortError"
  );
}

/** @private The error for a signal that aborted: its reason, or `CANCELLED`. */
export function abortError(signal: AbortSignal): SwillError {
  const reason: unknown = signal.reason;
  if (reason instanceof SwillError) {
    return reason;
  }
  const message = reason instanceof Error && reason.message ? reason.message : "the call was aborted";
  return new SwillError(Code.CANCELLED, message, { cause: reason });
}
