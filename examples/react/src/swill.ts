// One client for the page, and the TanStack Query options of its rpcs, typed by the generated
// `Rpcs` (regenerate api.ts with `swill codegen typescript examples.react.app:app -o
// examples/react/src/api.ts` when the app changes).
import { Client } from "@swill/client";
import { connectionStatus, createSwillQuery } from "@swill/client/query";

import type { Rpcs } from "./api.js";

// A path: the page's own origin (the Swill app in production, Vite's proxy in development).
// Generous retries, so the page rides out a server restart by itself.
export const client = new Client("/ws", { retries: 30, backoff: { maxDelayMs: 1000 } });
export const swill = createSwillQuery<Rpcs>(client);
export const status = connectionStatus(client);
