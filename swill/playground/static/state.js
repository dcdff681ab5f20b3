// What the playground's modules share: the session's state, its storage, and a few limits.

import { Schemas } from "./schema.js";

export const MAX_ROWS = 500; // timeline rows of one call kept on screen
export const MAX_HISTORY = 50;
export const MAX_REPLAY = 100; // messages of a request stream kept to send again
export const STORE = "swill-playground:";
export const MOD = /Mac|iPhone|iPad/.test(navigator.platform) ? "⌘" : "Ctrl";

/** The element with this id. */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Storage that survives a reload of the tab, and fails quietly where storage is off. */
export const session = {
  get(key, fallback) {
    try {
      const text = sessionStorage.getItem(STORE + key);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      sessionStorage.setItem(STORE + key, JSON.stringify(value));
    } catch {
      // storage full or disabled: the session just isn't kept
    }
  },
};

export const state = {
  /** @type {import("./client.js").Client} */
  client: undefined,
  doc: undefined,
  schemas: new Schemas(),
  /** @type {any[]} */
  rpcs: [],
  /** @type {Map<string, import("./view.js").RpcView>} */
  views: new Map(),
  /** @type {import("./view.js").RpcView | undefined} */
  current: undefined,
  /** @type {Promise<void> | undefined} */
  loading: undefined,
  metadata: session.get("metadata", "{}"),
  timeout: session.get("timeout", ""),
  drafts: new Map(Object.entries(session.get("drafts", {}))),
  /** @type {any[]} */
  history: session.get("history", []),
  schemaHash: undefined,
};
