/**
 * The shape of an API as `swill codegen typescript` describes it in its `Rpcs` type: each rpc's
 * kind and message types, by name. The TanStack Query adapter and the test server take it as a
 * type parameter; without one, any rpc name goes, with `unknown` messages.
 */

/** The kind of an rpc, as `swill.introspect` names it. */
export type RpcKind = "unary" | "server_stream" | "client_stream" | "bidi";

/** One rpc's kind and message types. */
export interface RpcShape {
  readonly kind: RpcKind;
  readonly request: unknown;
  readonly response: unknown;
  /** For a resumable stream (docs/protocol.md, "Resumable streams"): the type of its events' `value`. */
  readonly value?: unknown;
}

/** Any rpc, any types: the map of a client without generated types. */
export type AnyRpcs = Record<string, RpcShape>;

/** The names of `R`'s rpcs of kind `K`. */
export type RpcsOfKind<R, K extends RpcKind> = {
  [N in keyof R & string]: R[N] extends { readonly kind: K } ? N : never;
}[keyof R & string];

/** The request message type of rpc `N`. */
export type RequestOf<R, N extends keyof R> = R[N] extends { readonly request: infer T } ? T : never;

/** The response message type of rpc `N`. */
export type ResponseOf<R, N extends keyof R> = R[N] extends { readonly response: infer T } ? T : never;
