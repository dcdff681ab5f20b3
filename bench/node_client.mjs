// The TypeScript client (@swill/client, built) in Node against the Swill server that the Python
// client's benchmark uses (bench/apps.py swill), next to a raw-frame client on the same server.
//
//   cd clients/typescript && npm ci && npm run build && cd ../.. && node bench/node_client.mjs
//   node bench/node_client.mjs --quick     # a smoke run
//
// The server runs in a subprocess on its own core and this process on another (taskset, when
// there are two cores). Rounds are interleaved, each measurement runs on a fresh connection after
// a warm-up, and the table shows medians.
//
// - calls: unary `add` calls with 64 in flight on one connection; calls per second. The client
//   runs 64 workers, each awaiting `client.call("add", [1, 2])` in a loop.
// - stream: one server stream (`count`) with a window of 256; both clients grant credit in
//   batches of half the window as they consume; messages per second.
import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const pkg = createRequire(here("../clients/typescript/package.json"));
const { WebSocket } = pkg("ws");
const { decode, encode } = await import(pkg.resolve("@msgpack/msgpack"));
const { Client } = await import(here("../clients/typescript/dist/index.js"));

const quick = process.argv.includes("--quick");
const config = quick
  ? { rounds: 1, calls: 2000, inFlight: 64, messages: 5000, window: 256 }
  : { rounds: 5, calls: 20000, inFlight: 64, messages: 50000, window: 256 };
const cores = cpus().length;
const pin =
  process.env.SWILL_BENCH_PINNED === "1" || (!process.argv.includes("--no-pin") && cores >= 2 && hasTaskset());

if (pin && process.env.SWILL_BENCH_PINNED === undefined) {
  // Run again on core 0; the server gets core 1.
  const args = ["-c", "0", process.execPath, here(import.meta.url), ...process.argv.slice(2)];
  const child = spawnSync("taskset", args, { stdio: "inherit", env: { ...process.env, SWILL_BENCH_PINNED: "1" } });
  process.exit(child.status ?? 1);
}

function hasTaskset() {
  return spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0;
}

async function startServer() {
  const python = here("../.venv/bin/python");
  const command = pin ? ["taskset", ["-c", "1", python, here("./apps.py"), "swill"]] : [python, [here("./apps.py"), "swill"]];
  const child = spawn(command[0], command[1], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: child.stdout }).once("line", resolve);
  });
  const port = Number(/^port (\d+)$/.exec(line)?.[1]);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

/** Calls per second of `call()` with `config.inFlight` workers, after 200 calls to warm up. */
async function callsPerSecond(call) {
  await Promise.all(Array.from({ length: 200 }, call));
  let left = config.calls;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      await call();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: config.inFlight }, worker));
  return config.calls / ((performance.now() - started) / 1000);
}

// The Swill client.

async function clientCalls(url) {
  const client = new Client(url, { WebSocket });
  await client.connect();
  const rate = await callsPerSecond(() => client.call("add", [1, 2]));
  client.close();
  return rate;
}

async function clientStream(url) {
  const client = new Client(url, { WebSocket, window: config.window });
  await client.connect();
  for await (const _ of client.stream("count", 1000)); // warm-up
  let n = 0;
  const started = performance.now();
  for await (const _ of client.stream("count", config.messages)) {
    n += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  client.close();
  if (n !== config.messages) throw new Error(`got ${n} messages`);
  return n / seconds;
}

// The raw client: ws and MessagePack, frames built by hand.

async function rawOpen(url) {
  const socket = new WebSocket(url, ["swill.v1"]);
  socket.binaryType = "nodebuffer";
  await new Promise((resolve, reject) => {
    socket.once("message", resolve); // HELLO
    socket.once("error", reject);
  });
  return socket;
}

async function rawCalls(url) {
  const socket = await rawOpen(url);
  let nextId = 1;
  const pending = new Map();
  socket.on("message", (data) => {
    const frame = decode(data);
    pending.get(frame[1])?.(frame[2]);
    pending.delete(frame[1]);
  });
  const call = () =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(encode([0, id, "add", null, null, [1, 2]]));
    });
  const rate = await callsPerSecond(call);
  socket.close();
  return rate;
}

async function rawStream(url) {
  const socket = await rawOpen(url);
  const batch = config.window / 2;
  const run = (id, total) =>
    new Promise((resolve) => {
      let n = 0;
      let ungranted = 0;
      const onMessage = (data) => {
        const frame = decode(data);
        if (frame[0] === 1) {
          n += 1;
          ungranted += 1;
          if (ungranted >= batch) {
            socket.send(encode([7, id, ungranted]));
            ungranted = 0;
          }
        } else {
          socket.off("message", onMessage);
          resolve(n);
        }
      };
      socket.on("message", onMessage);
      socket.send(encode([0, id, "count", null, { window: config.window }, total]));
    });
  await run(1, 1000); // warm-up
  const started = performance.now();
  const n = await run(2, config.messages);
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  if (n !== config.messages) throw new Error(`got ${n} messages`);
  return n / seconds;
}

const scenarios = [
  { metric: `calls/s, ${config.inFlight} in flight`, swill: clientCalls, raw: rawCalls },
  { metric: `stream messages/s, window ${config.window}`, swill: clientStream, raw: rawStream },
];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const format = (value) => Math.round(value).toLocaleString("en-US");

const server = await startServer();
try {
  const results = scenarios.map(() => ({ swill: [], raw: [] }));
  for (let round = 0; round < config.rounds; round++) {
    for (const [i, scenario] of scenarios.entries()) {
      const order = round % 2 === 0 ? ["swill", "raw"] : ["raw", "swill"];
      for (const who of order) {
        results[i][who].push(await scenario[who](server.url));
      }
    }
  }
  const lines = ["| metric | @swill/client | raw frames (ws) | client / raw |", "|---|---:|---:|---:|"];
  for (const [i, scenario] of scenarios.entries()) {
    const swill = median(results[i].swill);
    const raw = median(results[i].raw);
    lines.push(`| ${scenario.metric} | ${format(swill)} | ${format(raw)} | ${(swill / raw).toFixed(2)} |`);
  }
  console.log(lines.join("\n"));
  console.log(
    `\nNode ${process.version}, ${cores} CPUs${pin ? ", client and server pinned to separate cores" : ""}; ` +
      `median of ${config.rounds} round${config.rounds === 1 ? "" : "s"}; ` +
      `${format(config.calls)} calls, ${format(config.messages)} stream messages per measurement.`,
  );
} finally {
  await server.stop();
}
