// The connection's status in the top bar, kept up to date from the client's events.

import { Client, SwillError } from "./client.js";
import { formatDuration } from "./dom.js";
import { $, state } from "./state.js";

export function connectionStatus(kind, text) {
  $("connection").dataset.state = kind;
  $("connection-text").textContent = text;
  $("reconnect").hidden = kind === "open" || kind === "connecting";
}

/** Make the client; `onOpen` runs after each (re)connection. */
export function setupClient(onOpen) {
  // The page's query string goes to the endpoint too: /swill?token=... authenticates the
  // connection where the app reads a token from the query string (docs/security.md).
  const path = (document.body.dataset.wsPath || "/ws") + location.search;
  // A wide window: the page reads as fast as messages come, and credit round trips would slow fast streams.
  const client = new Client(path, { retries: 6, window: 256, pingIntervalMs: 15_000, pongTimeoutMs: 10_000 });
  state.client = client;
  client.on("open", ({ settings }) => {
    connectionStatus("open", "Connected");
    $("connection").title = `${client.url} · ${settings.server}`;
    $("app-name").textContent = `${document.body.dataset.app} · ${settings.server}`;
    onOpen();
  });
  client.on("close", (info) => {
    connectionStatus("closed", `Disconnected${info.code ? ` (${info.code}${info.reason ? ` ${info.reason}` : ""})` : ""}`);
  });
  client.on("reconnecting", ({ attempt, delayMs }) => {
    connectionStatus("reconnecting", `Reconnecting in ${formatDuration(delayMs)} (attempt ${attempt})`);
  });
  client.on("goaway", () => connectionStatus("reconnecting", "Server going away: reconnecting"));
  client.on("error", ({ error }) => {
    if (client.state !== "open" && error.code !== "CANCELLED") {
      connectionStatus("closed", `Disconnected: ${error.message}`);
    }
  });
  $("reconnect").addEventListener("click", () => reconnect());
}

/**
 * After a failed call: a dial that gave up or was refused emits no event of the client's, so the
 * status is brought up to date from the client's state.
 */
export function noteFailure(error) {
  const client = state.client;
  if (client.state === "idle" && error.code !== "CANCELLED") {
    connectionStatus("closed", `Disconnected: ${error.message}`);
  }
}

export async function reconnect() {
  connectionStatus("connecting", "Connecting…");
  try {
    // close() stops a background retry that is waiting out its backoff, so that the dial starts
    // now; the button only shows while there is no open connection, so no call is cut.
    state.client.close();
    await state.client.connect();
  } catch (error) {
    connectionStatus("closed", `Disconnected: ${SwillError.from(error).message}`);
  }
}

