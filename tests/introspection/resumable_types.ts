// Type checks of the generated `resumable.ts`: `subscribe` is typed for exactly the rpcs that
// introspection marks `"resumable": true`. test_typescript.py compiles this file; it never runs.

import type { SubscriptionEvent } from "@swill/client";

import type { Api } from "./resumable.js";

export async function checks(api: Api): Promise<void> {
  for await (const event of api.subscribe("ticks", { after: 3 })) {
    const value: number = event.value;
    const missed: number = event.missed;
    const restarted: boolean = event.restarted;
    void [value, missed, restarted, event.id];
  }
  const alerts: AsyncIterable<SubscriptionEvent<{ level: string }>> = api.subscribe("alerts.raised");
  void alerts;
  // @ts-expect-error: count streams, but is not resumable
  void api.subscribe("count");
  // @ts-expect-error: ticks' values are numbers
  void (api.subscribe("ticks") satisfies AsyncIterable<SubscriptionEvent<string>>);
  // The rpc named `subscribe` makes way for the method.
  void api.subscribe2(1);
}
