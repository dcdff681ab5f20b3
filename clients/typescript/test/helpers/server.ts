// Starts the Python test app (test/server/launch.py) with the repository's venv, on 127.0.0.1.
import { type ChildProcess, spawn } from "node:child_process";
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
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const args = [launcher, "--port", String(options.port ?? 0)];
  if (options.site !== undefined) {
    args.push("--site", options.site);
  }
  const child = spawn(python, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
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
