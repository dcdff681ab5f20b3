// The playground: lists the server's rpcs (from `swill.introspect`) and calls them, through the
// TypeScript client (`client.js`) and nothing else.
//
// Modules: state.js (what they share), connection.js (the client and its status), view.js (one
// rpc: editors and calls), timeline.js (what a call sent and received), history.js, types.js
// (types from schemas), editor.js, schema.js (examples, checks), json.js, dom.js. The session (metadata, drafts, history) lives in sessionStorage, the theme in
// localStorage.

import { SwillError } from "./client.js";
import { noteFailure, reconnect, setupClient, connectionStatus } from "./connection.js";
import { KIND_LABELS, h, icon, richText } from "./dom.js";
import { setupHistory } from "./history.js";
import { Schemas } from "./schema.js";
import { $, STORE, state } from "./state.js";
import { RpcView } from "./view.js";

// Theme.

function setupTheme() {
  const button = $("theme");
  const stored = localStorage.getItem(STORE + "theme");
  const prefersDark = matchMedia("(prefers-color-scheme: dark)").matches;
  let theme = stored === "light" || stored === "dark" ? stored : prefersDark ? "dark" : "light";
  const apply = () => {
    document.documentElement.dataset.theme = theme;
    const next = theme === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme`;
    button.replaceChildren(icon(theme === "dark" ? "sun" : "moon"));
  };
  button.addEventListener("click", () => {
    theme = theme === "dark" ? "light" : "dark";
    localStorage.setItem(STORE + "theme", theme);
    apply();
  });
  apply();
}

// The introspection document.

/** Load (or reload, after a reconnect) the document; one load at a time. */
function loadDocument() {
  state.loading ??= fetchDocument().finally(() => {
    state.loading = undefined;
  });
  return state.loading;
}

async function fetchDocument() {
  /** @type {any} the introspection document (docs/protocol.md, "Built-in rpcs") */
  let doc;
  try {
    doc = await state.client.call("swill.introspect", null, { timeoutMs: 15_000 });
  } catch (error) {
    const failure = SwillError.from(error);
    noteFailure(failure);
    if (state.doc === undefined) {
      const why =
        failure.code === "UNIMPLEMENTED"
          ? "This server does not serve swill.introspect (Swill(introspection=False)), which the playground needs."
          : `${failure.code}: ${failure.message}`;
      showPlaceholder("Can't load the server's RPCs", why, true);
    }
    throw failure;
  }
  if (doc.schema_hash !== undefined && doc.schema_hash === state.schemaHash) {
    return; // a reconnect to the same server: nothing changed
  }
  state.schemaHash = doc.schema_hash;
  state.doc = doc;
  state.schemas = new Schemas(doc.schemas ?? {});
  state.rpcs = (doc.rpcs ?? []).map((rpc) => ({
    ...rpc,
    kind: rpc.kind ?? kindOf(rpc),
    group: groupOf(rpc.name),
  }));
  for (const view of state.views.values()) {
    if (view.active === undefined) {
      state.views.delete(view.rpc.name);
    }
  }
  renderList();
  const wanted = decodeURIComponent(location.hash.slice(1)) || state.current?.rpc.name;
  const first = state.rpcs.find((rpc) => rpc.name === wanted) ?? state.rpcs.find((rpc) => !rpc.builtin) ?? state.rpcs[0];
  if (first !== undefined) {
    select(first.name, { focus: false });
  } else {
    showPlaceholder("No RPCs", "This server has no handlers yet.");
  }
}

async function retryLoad() {
  if (state.client.state !== "open") {
    await reconnect(); // lifts a refusal too: the app may accept the connection now
  }
  loadDocument().catch(() => undefined);
}

function kindOf(rpc) {
  if (rpc.request?.stream) {
    return rpc.response?.stream ? "bidi" : "client_stream";
  }
  return rpc.response?.stream ? "server_stream" : "unary";
}

function groupOf(name) {
  const cut = name.lastIndexOf(".");
  return cut < 0 ? "" : name.slice(0, cut);
}

function showPlaceholder(title, text, retry = false) {
  state.current = undefined;
  $("main").replaceChildren(
    h(
      "div",
      { class: "placeholder" },
      h("p", { class: "placeholder-title" }, title),
      text ? h("p", { class: "placeholder-text" }, text) : null,
      retry ? h("button", { type: "button", class: "button", onclick: () => retryLoad() }, icon("reconnect"), "Try again") : null,
    ),
  );
}

// The list of rpcs.

function renderList() {
  const list = $("rpc-list");
  const terms = filterInput().value.toLowerCase().split(/\s+/).filter(Boolean);
  const matches = (rpc) => {
    const text = `${rpc.name} ${rpc.summary ?? rpc.doc ?? ""} ${KIND_LABELS[rpc.kind]}`.toLowerCase();
    return terms.every((term) => text.includes(term));
  };
  const groups = new Map();
  for (const rpc of state.rpcs) {
    if (matches(rpc)) {
      const key = rpc.builtin ? "\uffff" + rpc.group : rpc.group;
      groups.set(key, [...(groups.get(key) ?? []), rpc]);
    }
  }
  const keys = [...groups.keys()].sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
  const children = keys.map((key) => {
    const rpcs = groups.get(key);
    const label = rpcs[0].group || "root";
    const headingId = `group-${label.replace(/[^\w-]/g, "_")}`;
    return h(
      "div",
      { class: "rpc-group", role: "group", "aria-labelledby": headingId },
      h("div", { class: "rpc-group-title", id: headingId, role: "presentation" }, rpcs[0].group ? `${label}` : "root", rpcs[0].builtin ? " · built-in" : ""),
      rpcs.map((rpc) => option(rpc)),
    );
  });
  list.replaceChildren(...children);
  const count = [...groups.values()].reduce((n, rpcs) => n + rpcs.length, 0);
  $("rpc-count").textContent = String(state.rpcs.length);
  $("rpc-empty").hidden = count > 0 || state.rpcs.length === 0;
  markSelected();
}

function option(rpc) {
  const leaf = rpc.group ? rpc.name.slice(rpc.group.length + 1) : rpc.name;
  return h(
    "div",
    {
      class: "rpc-option",
      role: "option",
      id: `rpc-${rpc.name}`,
      "aria-selected": "false",
      dataset: { rpc: rpc.name },
      onclick: () => select(rpc.name, { focus: false }),
    },
    h(
      "div",
      { class: "rpc-option-line" },
      h("span", { class: "rpc-option-name" }, rpc.group ? h("span", { class: "rpc-prefix" }, `${rpc.group}.`) : null, leaf),
      h("span", { class: `kind-dot kind-${rpc.kind}`, title: KIND_LABELS[rpc.kind] }, icon(rpc.kind), h("span", { class: "visually-hidden" }, `, ${KIND_LABELS[rpc.kind]}`)),
    ),
    rpc.summary ? h("div", { class: "rpc-option-summary" }, richText(rpc.summary)) : null,
  );
}

const filterInput = () => /** @type {HTMLInputElement} */ ($("filter"));

/** The options of the rpc list, in order. */
function options(list) {
  return /** @type {HTMLElement[]} */ ([...list.querySelectorAll(".rpc-option")]);
}

function markSelected() {
  const list = $("rpc-list");
  let active;
  for (const element of options(list)) {
    const selected = element.dataset.rpc === state.current?.rpc.name;
    element.setAttribute("aria-selected", String(selected));
    if (selected) {
      active = element;
    }
  }
  if (active === undefined) {
    list.removeAttribute("aria-activedescendant");
  } else {
    list.setAttribute("aria-activedescendant", active.id);
    active.scrollIntoView({ block: "nearest" });
  }
}

function setupList() {
  const filter = filterInput();
  const list = $("rpc-list");
  filter.addEventListener("input", () => renderList());
  filter.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "Enter") {
      event.preventDefault();
      const [first] = options(list);
      if (first !== undefined && (event.key === "ArrowDown" || !state.current || !list.querySelector('[aria-selected="true"]'))) {
        select(first.dataset.rpc, { focus: false });
      }
      if (event.key === "Enter") {
        state.current?.editor.focus();
      } else {
        list.focus();
      }
    } else if (event.key === "Escape" && filter.value) {
      event.preventDefault();
      event.stopPropagation();
      filter.value = "";
      renderList();
    }
  });
  list.addEventListener("keydown", (event) => {
    const all = options(list);
    const at = all.findIndex((element) => element.getAttribute("aria-selected") === "true");
    let next;
    if (event.key === "ArrowDown") next = all[Math.min(at + 1, all.length - 1)];
    else if (event.key === "ArrowUp") next = at <= 0 ? undefined : all[at - 1];
    else if (event.key === "Home") next = all[0];
    else if (event.key === "End") next = all.at(-1);
    else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      state.current?.editor.focus();
      return;
    } else return;
    event.preventDefault();
    if (next === undefined && event.key === "ArrowUp") {
      filter.focus();
    } else if (next !== undefined) {
      select(next.dataset.rpc, { focus: false });
    }
  });
}

function select(name, { focus = true } = {}) {
  const rpc = state.rpcs.find((r) => r.name === name);
  if (rpc === undefined) {
    return;
  }
  let view = state.views.get(name);
  if (view === undefined) {
    view = new RpcView(rpc);
    state.views.set(name, view);
  }
  state.current = view;
  view.show();
  $("main").replaceChildren(view.element);
  markSelected();
  if (decodeURIComponent(location.hash.slice(1)) !== name) {
    history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  }
  document.title = `${name} · Swill playground`;
  if (focus) {
    view.editor.focus();
  }
}

// Tabs and keys.

function setupTabs() {
  const tabs = [$("tab-rpcs"), $("tab-history")];
  const show = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => show(tab));
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const next = tabs[(tabs.indexOf(tab) + 1) % tabs.length];
        show(next);
        next.focus();
      }
    });
  }
}

function setupKeys() {
  document.addEventListener("keydown", (event) => {
    const view = state.current;
    const typing = event.target instanceof HTMLElement && event.target.matches("input, textarea, [contenteditable]");
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && view !== undefined) {
      event.preventDefault();
      if (event.shiftKey) {
        view.endStream();
      } else {
        view.primary();
      }
    } else if (event.key === "Escape" && view?.active !== undefined) {
      event.preventDefault();
      view.cancel();
    } else if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      $("tab-rpcs").click();
      filterInput().focus();
      filterInput().select();
    }
  });
  window.addEventListener("hashchange", () => {
    const name = decodeURIComponent(location.hash.slice(1));
    if (name && name !== state.current?.rpc.name) {
      select(name, { focus: false });
    }
  });
}

setupTheme();
setupTabs();
setupList();
setupKeys();
setupHistory(select);
setupClient(() => loadDocument().catch(() => undefined));
connectionStatus("connecting", "Connecting…");
loadDocument().catch(() => undefined);
