// The calls made in the session, newest first, to load or run again.

import { formatClock, formatDuration, h, icon } from "./dom.js";
import { $, MAX_HISTORY, session, state } from "./state.js";

/** @type {(name: string, options?: {focus?: boolean}) => void} */
let select = () => undefined;

/** Wire the history to the page: `choose` opens an rpc's view. */
export function setupHistory(choose) {
  select = choose;
  $("history-clear").addEventListener("click", () => {
    state.history = [];
    session.set("history", []);
    renderHistory();
  });
  renderHistory();
}

export function addHistory(fields) {
  const entry = { id: Date.now() + Math.random(), startedAt: new Date().toISOString(), status: "running", ...fields };
  state.history.unshift(entry);
  state.history.length = Math.min(state.history.length, MAX_HISTORY);
  renderHistory();
  return entry;
}

export function finishHistory(entry, fields) {
  Object.assign(entry, fields);
  session.set("history", state.history);
  renderHistory();
}

export function renderHistory() {
  const list = $("history");
  $("history-count").textContent = state.history.length ? String(state.history.length) : "";
  $("history-empty").hidden = state.history.length > 0;
  $("history-clear").hidden = state.history.length === 0;
  list.replaceChildren(
    ...state.history.map((entry) => {
      const when = formatClock(new Date(entry.startedAt)).slice(0, 8);
      const label = `${entry.rpc} at ${when}`;
      const ok = entry.status === "OK";
      const statusKind = entry.status === "running" ? "running" : ok ? "ok" : entry.status === "CANCELLED" ? "cancelled" : "error";
      const details = [when, entry.durationMs === undefined ? null : formatDuration(entry.durationMs), entry.received > 1 ? `${entry.received} received` : null, entry.sent?.length > 1 ? `${entry.sent.length} sent` : null];
      return h(
        "li",
        { class: "history-item" },
        h("div", { class: "history-line" }, h("code", { class: "history-rpc" }, entry.rpc), h("span", { class: "status-badge small", "data-state": statusKind }, entry.status === "running" ? "running" : entry.status)),
        h("div", { class: "history-meta" }, details.filter(Boolean).join(" · ")),
        h("div", { class: "history-preview" }, previewText(entry.request)),
        h(
          "div",
          { class: "history-actions" },
          h("button", { type: "button", class: "button small ghost", "aria-label": `Load ${label} into the editor`, onclick: () => loadEntry(entry) }, icon("load"), "Load"),
          h("button", { type: "button", class: "button small ghost", "aria-label": `Run ${label} again`, onclick: () => rerun(entry) }, icon("rerun"), "Run again"),
        ),
      );
    }),
  );
}

function previewText(text) {
  const flat = (text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > 80 ? flat.slice(0, 80) + "…" : flat;
}

function loadEntry(entry) {
  if (!state.rpcs.some((rpc) => rpc.name === entry.rpc)) {
    return undefined;
  }
  select(entry.rpc, { focus: false });
  const view = state.current;
  view.editor.value = entry.request;
  view.editor.onInput();
  view.editor.setProblems([]);
  view.metadata.value = entry.metadata ?? "{}";
  view.metadata.onInput();
  view.timeout.value = entry.timeout ?? "";
  view.timeout.dispatchEvent(new Event("input"));
  view.editor.focus();
  return view;
}

function rerun(entry) {
  const view = loadEntry(entry);
  if (view === undefined || view.active !== undefined) {
    return;
  }
  const replay = view.streamsRequest ? { sent: (entry.sent ?? []).slice(1), ended: entry.ended } : undefined;
  view.primary({ force: true, replay });
}

