// Subscribes to a resumable stream of tests/introspection/resumable.py through the generated
// `api.subscribe` (the module generated from the app's own swill.introspect), from Node, and
// prints the first event as JSON. test_typescript.py compiles it with the generated module.

import { Client, type WebSocketConstructor } from "@swill/client";
import WebSocket from "ws";

import { Api } from "./resumable_api.js";

const url = process.argv[2];
if (url === undefined) {
  throw new Error("usage: node live_resumable.js ws://host:port/ws");
}
const client = new Client(url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
const api = new Api(client);
await api.publish(2.5);
const out: unknown[] = [];
for await (const event of api.subscribe("ticks", { after: 0 })) {
  const value: number = event.value; // typed from the topic's type
  out.push(event.id, value, event.missed, event.restarted);
  break;
}
console.log(JSON.stringify(out));
client.close();
