// The Node load generator of bench/server_bench.py: raw frames of docs/protocol.md over `ws`,
// MessagePack by @msgpack/msgpack (both from clients/typescript/node_modules), the same scenarios
// as the Python generator in server_bench.py. The driver starts it once per set of servers and
// talks to it in JSON lines:
//
//   generator → driver  {"ready": true}                                               once, at start
//   driver → generator  {"scenario": NAME, "url": URL, "config": {...}}               one measurement
//   generator → driver  {"mark": NAME}        then waits for one line (any) from the driver
//   generator → driver  {"result": {...}} or {"error": MESSAGE}                       its end
//
// A mark is where the driver reads the server's CPU time and RSS from /proc: `start` and `end`
// around a measurement (after the connection's warm-up, as the Python generator does), and
// `plain_before` ... `deflate_after` around the connections of `idle`. The generator exits when
// its stdin closes.
//
// Each scenario function mirrors the one of the same name in server_bench.py, figure for figure.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const pkg = createRequire(here("../clients/typescript/package.json"));
const { WebSocket } = pkg("ws");
const { Decoder, Encoder } = await import(pkg.resolve("@msgpack/msgpack"));

const encoder = new Encoder();
const decoder = new Decoder();
const encode = (value) => encoder.encode(value); // a copy: `ws` may mask or compress it later
const decode = (data) => decoder.decode(data);

const HELLO = 8;
const REQUEST = 0;
const MESSAGE = 1;
const END = 3;
const RESPONSE = 6;
const CREDIT = 7;

// Connections.

/** One WebSocket connection: frames sent, and frames received in order through `recv()`. */
class Connection {
  constructor(url, deflate) {
    this.socket = new WebSocket(url, ["swill.v1"], {
      // `threshold: 0` compresses every message, as browsers do (ws skips those under 1 KiB by default).
      perMessageDeflate: deflate ? { threshold: 0 } : false,
      // A zero masking key: without the optional native `bufferutil`, ws masks in JavaScript
      // (1.7 ms per MiB here, where browsers and websockets' C speedups take some 50 µs), which
      // made this client, not the server, the slow end of the 1 MiB echo. The server unmasks
      // every frame the same way whatever the key, so its work does not change.
      generateMask: (mask) => mask.fill(0),
    });
    this.queue = [];
    this.waiter = null;
    this.failure = null;
    this.socket.on("message", (data) => {
      if (this.waiter === null) {
        this.queue.push(data);
      } else {
        const { resolve } = this.waiter;
        this.waiter = null;
        resolve(data);
      }
    });
    const fail = (error) => {
      this.failure ??= error;
      if (this.waiter !== null) {
        const { reject } = this.waiter;
        this.waiter = null;
        reject(this.failure);
      }
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(new Error("the connection closed")));
    this.closed = new Promise((resolve) => this.socket.once("close", resolve));
  }

  /** The next frame received, decoded. */
  async recv() {
    if (this.queue.length > 0) return decode(this.queue.shift());
    if (this.failure !== null) throw this.failure;
    const data = await new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
    return decode(data);
  }

  send(frame) {
    this.socket.send(encode(frame));
  }

  /** Close, and wait for the closing handshake (as websockets' `close()` does). */
  async close() {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

/** A connection whose HELLO has arrived. */
async function open(url, { deflate = false } = {}) {
  const connection = new Connection(url, deflate);
  const hello = await connection.recv();
  if (hello[0] !== HELLO) throw new Error(`expected HELLO, got ${JSON.stringify(hello)}`);
  return connection;
}

/** Strictly increasing call ids for one connection. */
class Ids {
  last = 0;
  next() {
    this.last += 1;
    return this.last;
  }
}

function expect(frame, type, id) {
  if (frame[0] !== type || frame[1] !== id) {
    throw new Error(`expected frame type ${type} for call ${id}, got ${JSON.stringify(frame)}`.slice(0, 300));
  }
}

// The scenarios' loads.

/** `n` sequential unary calls; each one's time in seconds. */
async function latency(connection, ids, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const id = ids.next();
    const start = performance.now();
    connection.send([REQUEST, id, "add", null, null, [i, 1]]);
    const frame = await connection.recv();
    times.push((performance.now() - start) / 1000);
    expect(frame, RESPONSE, id);
    if (frame[2] !== i + 1) throw new Error(`add(${i}, 1) returned ${JSON.stringify(frame[2])}`);
  }
  return times;
}

/** `n` unary calls with `inFlight` of them open at a time; the seconds they took. */
async function pipelined(connection, ids, n, inFlight) {
  const start = performance.now();
  const open = new Set();
  let sent = 0;
  const call = () => {
    const id = ids.next();
    open.add(id);
    connection.send([REQUEST, id, "add", null, null, [id, 1]]);
    sent += 1;
  };
  while (sent < Math.min(inFlight, n)) call();
  while (open.size > 0) {
    const frame = await connection.recv();
    if (frame[0] !== RESPONSE || !open.has(frame[1]) || frame[2] !== frame[1] + 1) {
      throw new Error(`unexpected frame ${JSON.stringify(frame)}`);
    }
    open.delete(frame[1]);
    if (sent < n) call();
  }
  return (performance.now() - start) / 1000;
}

/** One server stream of `n` messages, granting credit in batches of half the window as it
 * consumes; the seconds it took. */
async function stream(connection, ids, n, window) {
  const id = ids.next();
  const batch = Math.max(1, Math.floor(window / 2));
  let consumed = 0;
  let received = 0;
  const start = performance.now();
  connection.send([REQUEST, id, "count", null, { window }, n]);
  for (;;) {
    const frame = await connection.recv();
    if (frame[0] === MESSAGE && frame[1] === id) {
      if (frame[2] !== received) throw new Error(`stream out of order: ${frame[2]} after ${received - 1}`);
      received += 1;
      consumed += 1;
      if (consumed >= batch && received < n) {
        connection.send([CREDIT, id, consumed]);
        consumed = 0;
      }
      continue;
    }
    expect(frame, END, id);
    break;
  }
  const elapsed = (performance.now() - start) / 1000;
  if (received !== n) throw new Error(`stream ended after ${received} of ${n} messages`);
  return elapsed;
}

/** `n` sequential echoes of a `size`-byte payload; each one's time in seconds. */
async function big(connection, ids, n, size) {
  const payload = randomBytes(size);
  const times = [];
  for (let i = 0; i < n; i++) {
    const id = ids.next();
    const start = performance.now();
    connection.send([REQUEST, id, "echo", null, null, payload]);
    const frame = await connection.recv();
    times.push((performance.now() - start) / 1000);
    expect(frame, RESPONSE, id);
    if (!(frame[2] instanceof Uint8Array) || Buffer.compare(Buffer.from(frame[2]), payload) !== 0) {
      throw new Error("echo returned a different payload");
    }
  }
  return times;
}

function percentile(values, q) {
  const ordered = [...values].sort((a, b) => a - b);
  return ordered[Math.min(ordered.length - 1, Math.floor(q * ordered.length))];
}

// The scenarios: what each measures on one warmed-up connection, as named figures.

const scenarios = {
  async latency(connection, ids, url, config) {
    const times = await latency(connection, ids, config.latency_calls);
    return { p50_us: percentile(times, 0.5) * 1e6, p99_us: percentile(times, 0.99) * 1e6 };
  },

  async calls(connection, ids, url, config) {
    const elapsed = await pipelined(connection, ids, config.calls, config.in_flight);
    return { calls_per_s: config.calls / elapsed, count: config.calls };
  },

  async stream(connection, ids, url, config) {
    const elapsed = await stream(connection, ids, config.stream_messages, config.window);
    return { messages_per_s: config.stream_messages / elapsed, count: config.stream_messages };
  },

  async big(connection, ids, url, config) {
    const times = await big(connection, ids, config.big_echoes, config.big_size);
    const p50 = percentile(times, 0.5);
    return { p50_ms: p50 * 1e3, mib_per_s: config.big_size / (1 << 20) / p50, count: config.big_echoes };
  },

  async fanout(connection, ids, url, config) {
    const n = config.fanout_connections;
    const each = config.fanout_calls;
    let elapsed = 0;
    for (let batch = 0; batch < config.fanout_batches; batch++) {
      // a batch is a few tenths of a second: several
      const connections = await Promise.all(Array.from({ length: n }, () => open(url)));
      try {
        const start = performance.now();
        await Promise.all(connections.map((c) => latency(c, new Ids(), each)));
        elapsed += (performance.now() - start) / 1000;
      } finally {
        await Promise.all(connections.map((c) => c.close()));
      }
    }
    const count = n * each * config.fanout_batches;
    return { calls_per_s: count / elapsed, count };
  },

  async deflate(connection, ids, url, config) {
    const browser = await open(url, { deflate: true });
    try {
      const browserIds = new Ids();
      await latency(browser, browserIds, 20);
      const elapsed = await pipelined(browser, browserIds, config.calls, config.in_flight);
      return { calls_per_s: config.calls / elapsed, count: config.calls };
    } finally {
      await browser.close();
    }
  },
};

/** One scenario on a fresh, warmed-up connection, between the marks `start` and `end`; with the
 * share of a core this process used meanwhile. */
async function measure(name, url, config, mark) {
  const scenario = scenarios[name];
  if (scenario === undefined) throw new Error(`no scenario ${name}`);
  const connection = await open(url);
  try {
    const ids = new Ids();
    await latency(connection, ids, 20); // warm this connection up
    await mark("start");
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const figures = await scenario(connection, ids, url, config);
    const seconds = (performance.now() - wall) / 1000;
    const used = process.cpuUsage(cpu);
    await mark("end");
    figures.client_cpu_share = (used.user + used.system) / 1e6 / seconds;
    return figures;
  } finally {
    await connection.close();
  }
}

/** `idle_connections` plain connections, then as many with permessage-deflate, all held open,
 * each served one call; the driver reads the server's RSS at the marks around each kind. */
async function idle(url, config, mark) {
  const held = [];
  const openEach = async (n, deflate) => {
    const opened = [];
    for (let i = 0; i < n; i++) opened.push(await open(url, { deflate }));
    held.push(...opened);
    await Promise.all(opened.map((c) => latency(c, new Ids(), 1)));
  };
  try {
    for (const deflate of [false, true]) await openEach(10, deflate); // the first ones cost more
    for (const [key, deflate] of [["plain", false], ["deflate", true]]) {
      await mark(`${key}_before`);
      await openEach(config.idle_connections, deflate);
      await mark(`${key}_after`);
    }
    return {};
  } finally {
    await Promise.all(held.map((c) => c.close()));
  }
}

// The driver's protocol.

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
const reply = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const mark = async (name) => {
  reply({ mark: name });
  if ((await lines.next()).done) throw new Error("the driver went away");
};

reply({ ready: true });
for (;;) {
  const line = await lines.next();
  if (line.done) break;
  const { scenario, url, config } = JSON.parse(line.value);
  try {
    const result = scenario === "idle" ? await idle(url, config, mark) : await measure(scenario, url, config, mark);
    reply({ result });
  } catch (error) {
    reply({ error: String(error?.stack ?? error) });
  }
}
