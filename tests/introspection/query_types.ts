// Type checks of the generated `Rpcs` map with `@swill/client/query` and `@swill/client/testing`:
// every `@ts-expect-error` line must be an error, or `tsc` fails ("unused directive").
// test_typescript.py compiles this file; it never runs.

import type { Client, SwillError } from "@swill/client";
import { createSwillQuery } from "@swill/client/query";
import { clientStream, createTestServer, unary } from "@swill/client/testing";

import type { Int64, Order, Rpcs } from "./api.js";

export function checks(client: Client): void {
  const swill = createSwillQuery<Rpcs>(client);
  const sum: Promise<Int64> = swill.queryOptions("add", [1, 2]).queryFn({} as never);
  const order: (variables: Order) => Promise<Order> = (variables) =>
    swill.mutationOptions("order").mutationFn(variables, {} as never);
  const retry: (count: number, error: SwillError) => boolean = swill.queryOptions("ping", null).retry;
  const counted: Promise<Int64[]> = swill.streamOptions("count", 3).queryFn({} as never);
  const latest: Promise<Int64 | null> = swill.streamOptions("count", 3, { mode: "replace" }).queryFn({} as never);
  const total = swill.streamingCall("total");
  void total.send(1.5);
  void [sum, order, retry, counted, latest];

  // @ts-expect-error: add takes two integers
  swill.queryOptions("add", [1]);
  // @ts-expect-error: count is a server stream, not a unary rpc
  swill.queryOptions("count", 3);
  // @ts-expect-error: add is unary, not a stream
  swill.streamOptions("add", [1, 2]);
  // @ts-expect-error: total streams numbers
  void total.send("x");
  // @ts-expect-error: no such rpc
  swill.mutationOptions("nope");

  createTestServer<Rpcs>({
    add: unary(([a, b]) => Number(a) + Number(b)),
    total: clientStream(async (values) => {
      let sum = 0;
      for await (const value of values) sum += value;
      return sum;
    }),
  });
  createTestServer<Rpcs>({
    // @ts-expect-error: add is unary, its handler can't be a client stream
    add: clientStream(async () => 1),
  });
}
