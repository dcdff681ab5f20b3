// Starts the Python test app (test/server/launch.py) with the repository's venv, on 127.0.0.1.
import { type ChildProcess, spawn } from "node:child_process";
import { type AddressInfo, connect, createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const python = fileURLToPath(new URL("../../../../.venv/bin/python", import.meta.url));
const launcher = fileURLToPath(new URL("../server/launch.py", import.meta.url));

export interface TestServer {
  readonly port: number;
  /** The app's WebSocket URL (or the site's base URL with `site`). */
  readonly url: string;
  /** Stop the server (SIGTERM, then SIGKILL after 5 s) and wait for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerOptions {
  /** Bind this port (default 0: one the OS picks). */
  readonly port?: number;
  /** Serve the browser page with this bundle; the app is then at /rpc/ws. */
  readonly site?: string;
  /** The topics' broker URL (`redis://...`); default in memory. */
  readonly broker?: string;
  /** Serve test/server/auth_app.py (credentials checked by `@app.authenticate`). */
  readonly auth?: boolean;
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const args = [launcher, "--port", String(options.port ?? 0)];
  if (options.site !== undefined) {
    args.push("--site", options.site);
  }
  if (options.auth === true) {
    args.push("--app", "auth");
  }
  const env = options.broker === undefined ? process.env : { ...process.env, SWILL_TEST_BROKER: options.broker };
  const child = spawn(python, args, { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });
  const port = await readPort(child);
  const url = options.site === undefined ? `ws://127.0.0.1:${port}/ws` : `http://127.0.0.1:${port}/`;
  return { port, url, stop: (signal) => stop(child, signal) };
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the test server did not print its port within 20 s"));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the test server exited with ${code}`));
    });
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export interface TestRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** A redis-server on 127.0.0.1 without persistence, on a port the OS picked for us. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("redis-server was not ready within 10 s"));
    }, 10_000);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}`));
    });
  });
  return { url: `redis://127.0.0.1:${port}/0`, stop: () => stop(child) };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const swill = fileURLToPath(new URL("../../../../.venv/bin/swill", import.meta.url));
const serverDir = fileURLToPath(new URL("../server/", import.meta.url));

export interface SwillRun {
  readonly url: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Send `signal` (SIGTERM: `swill run`'s graceful drain). */
  kill(signal?: NodeJS.Signals): void;
}

/** The test app under `swill run` (GOAWAY and drain on SIGTERM) on `port`, once it accepts. */
export async function swillRun(port: number, broker: string): Promise<SwillRun> {
  const env = { ...process.env, SWILL_TEST_BROKER: broker };
  const child = spawn(swill, ["run", "app:app", "--port", String(port), "--log-level", "warning"], {
    cwd: serverDir,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await untilAccepting(port, exited);
  return { url: `ws://127.0.0.1:${port}/ws`, exited, kill: (signal = "SIGTERM") => child.kill(signal) };
}

// Connect until the port accepts (each attempt bounded, 200 attempts at most).
async function untilAccepting(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let attempt = 0; attempt < 200 && !gone; attempt++) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => setTimeout(() => resolve(false), 50));
    });
    if (accepted) {
      return;
    }
  }
  throw new Error(`swill run did not accept connections on port ${port}`);
}
