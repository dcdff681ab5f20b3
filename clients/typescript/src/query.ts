/**
 * `@swill/client/query`: TanStack Query options for Swill rpcs, on `@tanstack/query-core`, so
 * they work with React, Vue, Solid, Svelte and Angular Query alike.
 *
 * Rules this module keeps:
 *
 * 1. Keys: `[scope, ...rpc.split("."), { kind, input }]`. A prefix of it (`swill.key("users")`,
 *    `swill.key("users.get")`) matches every query of a namespace or an rpc, so invalidation works
 *    at any level; `kind` keeps a unary query and a stream of the same rpc and input apart.
 *    Inputs may hold `bigint`, `Uint8Array`, `Date` and `Map`: the options carry a
 *    `queryKeyHashFn` that hashes them (TanStack's default hash throws on a `bigint`).
 * 2. Cancellation: every query function passes TanStack's `signal` to the call, so a query that
 *    loses its last observer, or that `cancelQueries` stops, sends CLOSE and its server handler
 *    stops.
 * 3. Errors: `error` is a `SwillError`. Queries retry (up to 3 times) only `UNAVAILABLE` and
 *    `DEADLINE_EXCEEDED`, never a server's answer such as `INVALID_ARGUMENT`; mutations never
 *    retry (the server may have acted).
 * 4. Streams are queries whose data grows (or is replaced) per message while the call runs;
 *    subscriptions (resumable streams) are queries that never end by themselves, keep the latest
 *    value or the last N and resume, after an unmount and remount, from the last id they hold.
 */

import {
  type DataTag,
  type MutationFunctionContext,
  type QueryFunctionContext,
  type QueryKey,
  experimental_streamedQuery as streamedQuery,
} from "@tanstack/query-core";

import type { Call, CallOptions } from "./call.js";
import type { Client } from "./client.js";
import { Code, SwillError } from "./errors.js";
import type { AnyRpcs, RequestOf, ResponseOf, RpcsOfKind } from "./rpcs.js";
import { type StreamingCall, streamingCall } from "./streaming.js";
import type { SubscriptionEvent } from "./subscribe.js";

export type { AnyRpcs, RequestOf, ResponseOf, RpcKind, RpcShape, RpcsOfKind } from "./rpcs.js";
export { type ConnectionStatus, type ConnectionStore, connectionStatus } from "./status.js";
export { type StreamingCall, type StreamingCallSnapshot, type StreamingStatus, streamingCall } from "./streaming.js";

/**
 * The names of `R`'s resumable rpcs: server streams marked with a `value` type, or whose messages
 * are `{ id, value }` events (docs/protocol.md, "Resumable streams").
 */
export type ResumableRpcs<R> = {
  [N in keyof R & string]: R[N] extends { readonly kind: "server_stream"; readonly value: unknown }
    ? N
    : R[N] extends { readonly kind: "server_stream"; readonly response: { id: unknown; value: unknown } }
      ? N
      : never;
}[keyof R & string];

type Request<R, N extends keyof R> = RequestOf<R, N>;
type Response<R, N extends keyof R> = ResponseOf<R, N>;
type Value<R, N extends keyof R> = R[N] extends { readonly value: infer T }
  ? T
  : ResponseOf<R, N> extends { value: infer T }
    ? T
    : never;

/** What a query key's last element holds. */
export interface KeyParams {
  /** Absent in a prefix that matches every kind. */
  readonly kind?: QueryKind;
  readonly input?: unknown;
}

/** What a query runs: a unary call, a stream, a subscription. */
export type QueryKind = "query" | "stream" | "live";

/** A Swill query key: the scope, the rpc's name split at dots, then {@link KeyParams}. */
export type SwillQueryKey = readonly [string, ...(string | KeyParams)[]];

/** Options for `useQuery` / `createQuery` / `injectQuery` (and `fetchQuery`, `prefetchQuery`). */
export interface SwillQueryOptions<TData> {
  readonly queryKey: DataTag<QueryKey, TData, SwillError>;
  readonly queryFn: (context: QueryFunctionContext) => Promise<TData>;
  readonly queryKeyHashFn: (key: QueryKey) => string;
  readonly retry: (failureCount: number, error: SwillError) => boolean;
}

/**
 * Options of a live (subscription) query: it subscribes again whenever a component mounts it
 * (resuming from the id it holds), and not on window focus or reconnect (the subscription
 * resumes by itself).
 */
export interface SwillLiveQueryOptions<TData> extends SwillQueryOptions<TData> {
  readonly staleTime: number;
  readonly refetchOnMount: "always";
  readonly refetchOnWindowFocus: false;
  readonly refetchOnReconnect: false;
}

/** Options for `useMutation`. */
export interface SwillMutationOptions<TData, TVariables> {
  readonly mutationKey: readonly [string, ...string[]];
  readonly mutationFn: (variables: TVariables, context: MutationFunctionContext) => Promise<TData>;
  /** Always `false`: the server may have acted on a failed call. (A function, to type `error`.) */
  readonly retry: (failureCount: number, error: SwillError) => false;
}

/** How a streamed query keeps the messages of its stream. */
export interface StreamQueryOptions extends CallOptions {
  /**
   * `"append"` (default): the data is the array of messages so far; `"replace"`: the data is the
   * latest message (`null` until the first).
   */
  readonly mode?: "append" | "replace" | undefined;
  /** With `"append"`, keep only the last `limit` messages. */
  readonly limit?: number | undefined;
}

/** Options of a live query over a resumable stream. */
export interface LiveQueryOptions {
  /** Keep the last `keep` values (default 1). */
  readonly keep?: number | undefined;
  /** Start after this event id (default: only new events, or the last id the cache holds). */
  readonly after?: number | null | undefined;
  /** Client metadata of each REQUEST. */
  readonly metadata?: CallOptions["metadata"];
}

/** One event of a resumable stream, as `Client.subscribe()` yields it. */
export type LiveEvent<T> = SubscriptionEvent<T>;

/** The data of a live query. */
export interface LiveData<T> {
  /** The latest value. */
  readonly value: T;
  /** The last `keep` values, oldest first. */
  readonly values: readonly T[];
  /** The latest event's id: where a new subscription resumes. */
  readonly id: number;
  /** The latest event, with its own `missed` and `restarted`. */
  readonly last: LiveEvent<T>;
  /** Ids missed since the query started, summed. */
  readonly missed: number;
  /** How many times the ids began again. */
  readonly restarts: number;
}

/** Options of {@link createSwillQuery}. */
export interface SwillQueryConfig {
  /** The first element of every key (default `"swill"`): one per server when there are several. */
  readonly scope?: string | undefined;
}

/** TanStack Query options for the rpcs of one client; `R` is the `Rpcs` type codegen writes. */
export interface SwillQuery<R = AnyRpcs> {
  readonly client: Client;
  /**
   * A key, or a prefix of keys, for invalidation and cache reads: `key()` matches every Swill
   * query of this scope, `key("users")` a namespace, `key("users.get")` every input of an rpc,
   * `key("users.get", input)` one unary query.
   */
  key(rpc?: string, input?: unknown, kind?: QueryKind): SwillQueryKey;
  /** A unary rpc as a query: `useQuery(swill.queryOptions("users.get", { id }))`. */
  queryOptions<N extends RpcsOfKind<R, "unary">>(
    rpc: N,
    input: Request<R, N>,
    options?: CallOptions,
  ): SwillQueryOptions<Response<R, N>>;
  /** A unary rpc as a mutation: `useMutation(swill.mutationOptions("users.create"))`. */
  mutationOptions<N extends RpcsOfKind<R, "unary">>(
    rpc: N,
    options?: CallOptions,
  ): SwillMutationOptions<Response<R, N>, Request<R, N>>;
  /** A server stream as a query whose data is the messages so far (or the latest one). */
  streamOptions<N extends RpcsOfKind<R, "server_stream">>(
    rpc: N,
    input: Request<R, N>,
    options?: StreamQueryOptions & { readonly mode?: "append" | undefined },
  ): SwillQueryOptions<Response<R, N>[]>;
  streamOptions<N extends RpcsOfKind<R, "server_stream">>(
    rpc: N,
    input: Request<R, N>,
    options: StreamQueryOptions & { readonly mode: "replace" },
  ): SwillQueryOptions<Response<R, N> | null>;
  /** A resumable stream as a live query: the latest value or the last N, resumed by itself. */
  liveOptions<N extends ResumableRpcs<R>>(rpc: N, options?: LiveQueryOptions): SwillLiveQueryOptions<LiveData<Value<R, N>>>;
  /** A client-streaming or bidi call a form can drive: `send`, `end`, `cancel`, a snapshot. */
  streamingCall<N extends RpcsOfKind<R, "client_stream" | "bidi">>(
    rpc: N,
    options?: CallOptions,
  ): StreamingCall<Request<R, N>, Response<R, N>>;
}

const RETRIED: ReadonlySet<string> = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]);

/** Whether a query retries after `error` (its `failureCount`-th failure). */
export function retryable(failureCount: number, error: SwillError): boolean {
  return failureCount < 3 && RETRIED.has(error.code);
}

/**
 * TanStack Query options for `client`'s rpcs.
 *
 * ```ts
 * import { createSwillQuery } from "@swill/client/query";
 * import type { Rpcs } from "./api.js";   // from `swill codegen typescript`
 *
 * const swill = createSwillQuery<Rpcs>(client);
 * const user = useQuery(swill.queryOptions("users.get", { id: 1 }));   // user.error: SwillError
 * ```
 */
export function createSwillQuery<R = AnyRpcs>(client: Client, config: SwillQueryConfig = {}): SwillQuery<R> {
  const scope = config.scope ?? "swill";
  const key = (rpc?: string, input?: unknown, kind?: QueryKind): SwillQueryKey => {
    const path = rpc === undefined ? [] : rpc.split(".");
    if (kind === undefined && input === undefined) {
      return [scope, ...path];
    }
    return [scope, ...path, kind === undefined ? { input } : { kind, input }];
  };
  const tagged = <T>(k: SwillQueryKey): DataTag<QueryKey, T, SwillError> =>
    k as unknown as DataTag<QueryKey, T, SwillError>;
  const withSignal = (options: CallOptions | undefined, signal: AbortSignal): CallOptions => ({ ...options, signal });

  return {
    client,
    key,
    queryOptions(rpc, input, options) {
      return {
        queryKey: tagged(key(rpc, input ?? null, "query")),
        queryFn: (context) => client.call(rpc, input, withSignal(options, context.signal)),
        queryKeyHashFn: hashQueryKey,
        retry: retryable,
      };
    },
    mutationOptions(rpc, options) {
      return {
        mutationKey: [scope, ...rpc.split(".")],
        mutationFn: (input) => client.call(rpc, input, options),
        retry: () => false,
      };
    },
    streamOptions(rpc: string, input: unknown, options: StreamQueryOptions = {}) {
      const { mode = "append", limit, ...callOptions } = options;
      const open = (context: { signal: AbortSignal }): Call<unknown, never> =>
        client.stream(rpc, input, withSignal(callOptions, context.signal));
      const queryFn =
        mode === "replace"
          ? streamedQuery<unknown, unknown>({
              streamFn: open,
              reducer: (_previous, message) => message,
              initialValue: null,
            })
          : streamedQuery<unknown, unknown[]>({
              streamFn: open,
              reducer: (messages, message) => keepLast([...messages, message], limit),
              initialValue: [],
            });
      return {
        queryKey: tagged(key(rpc, input ?? null, "stream")),
        queryFn: (context: QueryFunctionContext) => Promise.resolve(queryFn(context)),
        queryKeyHashFn: hashQueryKey,
        retry: retryable,
      } as SwillQueryOptions<never>;
    },
    liveOptions(rpc, options = {}) {
      const queryKey = tagged<LiveData<never>>(key(rpc, undefined, "live"));
      return {
        queryKey,
        queryFn: (context) => live(client, rpc, options, context),
        queryKeyHashFn: hashQueryKey,
        retry: retryable,
        staleTime: Number.POSITIVE_INFINITY,
        refetchOnMount: "always",
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
      };
    },
    streamingCall(rpc, options) {
      return streamingCall(client, rpc, options);
    },
  };
}

function keepLast<T>(items: T[], limit: number | undefined): T[] {
  return limit !== undefined && items.length > limit ? items.slice(items.length - limit) : items;
}

/** Fold one event into a live query's data. */
export function foldLive<T>(previous: LiveData<T> | undefined, event: LiveEvent<T>, keep = 1): LiveData<T> {
  return {
    value: event.value,
    values: keepLast([...(previous?.values ?? []), event.value], Math.max(1, keep)),
    id: event.id,
    last: event,
    missed: (previous?.missed ?? 0) + event.missed,
    restarts: (previous?.restarts ?? 0) + (event.restarted ? 1 : 0),
  };
}

// The query function of a live query: runs until its signal aborts (no observer left) or the
// subscription fails for good, writing each event into the cache as it comes. The query is
// `pending` until the first event, then `success` while it keeps fetching.
async function live<T>(
  client: Client,
  rpc: string,
  options: LiveQueryOptions,
  context: QueryFunctionContext,
): Promise<LiveData<T>> {
  const cache = context.client;
  const held = cache.getQueryData<LiveData<T>>(context.queryKey);
  const after = held?.id ?? options.after ?? null;
  const events = client.subscribe<T>(rpc, { after, signal: context.signal, metadata: options.metadata });
  try {
    for await (const event of events) {
      cache.setQueryData<LiveData<T>>(context.queryKey, (previous) => foldLive(previous, event, options.keep));
    }
  } catch (error) {
    if (!context.signal.aborted) {
      throw SwillError.from(error);
    }
  }
  const data = cache.getQueryData<LiveData<T>>(context.queryKey);
  if (data === undefined) {
    throw new SwillError(Code.UNAVAILABLE, `the subscription to ${rpc} ended before its first event`);
  }
  return data;
}

/**
 * A query key's hash: TanStack's (stable JSON, object keys sorted) extended to the values Swill
 * carries, `bigint`, `Uint8Array`, `Date` and `Map`, each tagged so it can't collide with a
 * string or an array.
 */
export function hashQueryKey(key: QueryKey): string {
  return JSON.stringify(key, function (this: Record<string, unknown>, name: string, value: unknown) {
    const original = this[name];
    if (typeof original === "bigint") {
      return { $bigint: original.toString() };
    }
    if (original instanceof Date) {
      return { $date: original.getTime() };
    }
    if (original instanceof Uint8Array) {
      return { $bin: Array.from(original) };
    }
    if (original instanceof Map) {
      return { $map: [...original.entries()] };
    }
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
    }
    return value;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return false;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The problems of an error by field: `{ "email": "…" }` for a server path `$.email`,
 * `{ "items[2].qty": "…" }` for `$.items[2].qty`, `{ "": "…" }` for `$` (the object as a whole).
 * Read from a `SwillError` whose `data` is a list of `{ path, message }`: what validation sends
 * with `INVALID_ARGUMENT`, and what a handler may attach to any code (`ALREADY_EXISTS`, say).
 * Empty for anything else. A message of a streamed request is not a form: its index is ignored.
 */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof SwillError) || !Array.isArray(error.data)) {
    return out;
  }
  for (const problem of error.data as unknown[]) {
    const { path, message } = (problem ?? {}) as { path?: unknown; message?: unknown };
    if (typeof path === "string" && typeof message === "string") {
      const field = path.replace(/^\$\.?/, "");
      out[field] ??= message;
    }
  }
  return out;
}
