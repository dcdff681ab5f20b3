// Type checks of the generated `api.ts`: every `@ts-expect-error` line must be an error, or
// `tsc` fails ("unused directive"). test_typescript.py compiles this file; it never runs.

import { type Api, type Blob, type Cat, type Int64, type Order, type Point, type ServerStreamCall, isReserveError } from "./api.js";

export function checks(api: Api): void {
  const sum: Promise<Int64> = api.add([1, 2]);
  const counted: ServerStreamCall<Int64> = api.count(3);
  const point: Point = [1];
  void [sum, counted, point];

  // @ts-expect-error: add takes exactly two integers
  void api.add([1]);
  // @ts-expect-error: count takes a number
  void api.count("3");
  // @ts-expect-error: a pet is a Cat or a Dog, told apart by `type`
  void api.pets.adopt({ type: "Bird" });
  // @ts-expect-error: total's requests are numbers
  void api.total().send("x");
  // @ts-expect-error: echo's responses are strings
  void (api.chat.echo().result() satisfies Promise<number>);
  // @ts-expect-error: ping takes no request message
  void api.ping(1);
  // @ts-expect-error: qty is a number
  const order: Order = { qty: "2", item: "tea" };
  // @ts-expect-error: bytes are a Uint8Array, not a string
  const blob: Blob = { data: "abc", created: new Date(), big: 1, small: 1 };
  // @ts-expect-error: a Cat's lives are a number
  const cat: Cat = { type: "Cat", lives: "nine" };
  // @ts-expect-error: colors are "green" or "red"
  void api.colors("blue");
  void [order, blob, cat];
}

export function narrowing(error: unknown): void {
  if (isReserveError(error)) {
    if (error.data.error === "SoldOut") {
      const left: Int64 = error.data.detail.left;
      // @ts-expect-error: a SoldOut's code is FAILED_PRECONDITION
      const code: "NOT_FOUND" = error.code;
      void [left, code];
    } else {
      // @ts-expect-error: shop.Closed has no detail
      void error.data.detail.left;
    }
    // @ts-expect-error: reserve declares no such error
    void (error.data.error === "Missing");
  }
}
