// Calls the catalog app (tests/introspection/catalog.py) through the generated `api.ts`, from
// Node, and prints what came back as JSON. test_typescript.py compiles it with `tsc --strict`
// next to the generated module, so it is also a check that the generated types fit real use.

import { Client, type WebSocketConstructor } from "@swill/client";
import WebSocket from "ws";

import { Api, type Blob, type Cat, type Dog, type Int64, type Order, isReserveError, isUpToDate } from "./api.js";

const url = process.argv[2];
if (url === undefined) {
  throw new Error("usage: node live.js ws://host:port/ws");
}
const client = new Client(url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
const api = new Api(client);
const out: Record<string, unknown> = {};

out["add"] = await api.add([1, 2]);
out["addBig"] = await api.add([2n ** 60n, 1]);
const counted: Int64[] = [];
for await (const i of api.count(3)) {
  counted.push(i);
}
out["count"] = counted;

const total = api.total();
await total.send(1.5);
await total.send(2);
await total.end();
out["total"] = await total.result();

const echo = api.chat.echo();
await echo.send("hi");
await echo.send("there");
await echo.end();
const lines: string[] = [];
for await (const line of echo) {
  lines.push(line);
}
out["echo"] = lines;

const cat: Cat = { type: "Cat", lives: 3 };
const dog: Dog = { type: "Dog", name: "Rex" };
const adopted = [await api.pets.adopt(cat), await api.pets.adopt(dog)];
out["adopt"] = adopted.map((pet) => (pet.type === "Cat" ? `cat ${pet.lives ?? 9}` : `dog ${pet.name}`));

const created = new Date(Date.UTC(2024, 0, 1, 12, 0, 0));
const blob: Blob = { data: new Uint8Array([1, 2, 3]), created, big: 2n ** 60n, small: 5 };
const back = await api.blob(blob);
out["blob"] = {
  data: back.data instanceof Uint8Array ? Array.from(back.data) : "not a Uint8Array",
  created: back.created instanceof Date ? back.created.toISOString() : "not a Date",
  big: typeof back.big === "bigint" ? back.big.toString() : "not a bigint",
  small: back.small,
};

const order: Order = { qty: 2, item: "tea", color: "green" };
const confirmed = await api.order(order);
out["order"] = [confirmed.note, confirmed.color, confirmed.kind];
try {
  await api.order({ qty: 13, item: "tea" });
  out["unlucky"] = "accepted";
} catch (error) {
  out["unlucky"] = (error as { code: string }).code;
}

out["tree"] = await api.tree({ label: "a", children: [{ label: "b" }, { label: "c", children: [] }] });
out["point"] = await api.point([1, 2]);
out["box"] = (await api.box({ item: 5 })).item;
const window = await api.window({ start: created });
out["window"] = window.end instanceof Date ? window.end.toISOString() : "not a Date";
out["tags"] = await api.tags({ names: ["b", "a"] });
out["pair"] = await api.pair([1]);
out["ping"] = await api.ping();
out["maybe"] = [await api.maybe(null), await api.maybe(3)];
out["colors"] = await api.colors("red");
const reserved: string[] = [String(await api.reserve({ qty: 2, item: "tea" }))];
for (const item of ["tea", "closed"]) {
  try {
    await api.reserve({ qty: 9, item });
  } catch (error) {
    if (!isReserveError(error)) {
      throw error;
    }
    switch (error.data.error) {
      case "SoldOut":
        reserved.push(`${error.code} ${error.data.detail.item} ${error.data.detail.left}`);
        break;
      case "shop.Closed":
        reserved.push(`${error.code} ${String(error.data.detail)} ${error.message}`);
        break;
    }
  }
}
try {
  await api.reserve({ qty: 13, item: "tea" });
} catch (error) {
  reserved.push(`declared: ${isReserveError(error)}`);
}
out["reserve"] = reserved;
out["upToDate"] = await isUpToDate(client);

client.close();
console.log(JSON.stringify(out, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value)));
