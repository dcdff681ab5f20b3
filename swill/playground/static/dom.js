// DOM helpers and the display of values as MessagePack delivers them: bytes, dates and big
// integers get a look of their own instead of JSON's approximations.

import { toBase64 } from "./json.js";

/**
 * Make an element: `h("button", {class: "x", onclick}, "text", child)`. Attributes that are
 * `null`, `undefined` or `false` are left out; `on*` functions become listeners.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(element, child);
    } else {
      element.append(child instanceof Node ? child : String(child));
    }
  }
}

/** Text from a docstring, with `code` spans set in code. */
export function richText(text) {
  return String(text ?? "")
    .split(/(`[^`\n]+`)/)
    .filter(Boolean)
    .map((part) => (part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", { class: "doc-code" }, part.slice(1, -1)) : part));
}

const ICONS = {
  unary: '<path d="M3 8h9m-3-3 3 3-3 3"/>',
  server_stream: '<path d="M2 5h8m-2-2 2 2-2 2M2 11h11m-2-2 2 2-2 2"/>',
  client_stream: '<path d="M3 5h8m-2-2 2 2-2 2M6 11h8m-2-2 2 2-2 2"/>',
  bidi: '<path d="M2 5h11m-2-2 2 2-2 2M14 11H3m2-2-2 2 2 2"/>',
  sun: '<circle cx="8" cy="8" r="3"/><path d="M8 1v1.5M8 13.5V15M1 8h1.5M13.5 8H15M3 3l1 1M12 12l1 1M3 13l1-1M12 4l1-1"/>',
  moon: '<path d="M13 9.5A5.5 5.5 0 1 1 6.5 3a4.5 4.5 0 0 0 6.5 6.5Z"/>',
  search: '<circle cx="7" cy="7" r="4.5"/><path d="m10.5 10.5 3.5 3.5"/>',
  play: '<path d="M4.5 3v10l8-5Z"/>',
  stop: '<rect x="4" y="4" width="8" height="8" rx="1"/>',
  send: '<path d="M2 8h11m-4-4 4 4-4 4"/>',
  end: '<path d="M2 8h8m-3-3 3 3-3 3M13 3.5v9"/>',
  rerun: '<path d="M13 8a5 5 0 1 1-1.5-3.5M13 2.5V5h-2.5"/>',
  copy: '<rect x="5" y="5" width="8" height="9" rx="1.5"/><path d="M3 11V3.5A1.5 1.5 0 0 1 4.5 2H10"/>',
  clear: '<path d="M3 4h10M6.5 4V2.5h3V4M4.5 4l.7 9.5h5.6l.7-9.5"/>',
  load: '<path d="M8 2v8m-3-3 3 3 3-3M3 13h10"/>',
  reconnect: '<path d="M13 8a5 5 0 1 1-1.5-3.5M13 2.5V5h-2.5"/>',
  wand: '<path d="m3 13 7-7m1-3v2m0 4v2m-3-5h2m4 0h2"/>',
  format: '<path d="M3 4h10M3 8h6M3 12h8"/>',
};

/** An inline icon; decorative, so hidden from assistive technology. */
export function icon(name) {
  const span = document.createElement("span");
  span.className = "icon";
  span.setAttribute("aria-hidden", "true");
  span.innerHTML = `<svg viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">${ICONS[name] ?? ""}</svg>`;
  return span;
}

export const KIND_LABELS = {
  unary: "unary",
  server_stream: "server stream",
  client_stream: "client stream",
  bidi: "bidi stream",
};

/** A badge with the call kind's icon and name. */
export function kindBadge(kind) {
  return h("span", { class: `kind kind-${kind}`, title: KIND_LABELS[kind] ?? kind }, icon(kind), h("span", { class: "kind-label" }, KIND_LABELS[kind] ?? kind));
}

// Values.

const MAX_BYTES_SHOWN = 48;

/** A readable look at bytes: their size, hex, and the text they hold when they are text. */
export function describeBytes(bytes) {
  const hex = [...bytes.subarray(0, MAX_BYTES_SHOWN)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const more = bytes.length > MAX_BYTES_SHOWN ? ` … +${bytes.length - MAX_BYTES_SHOWN}` : "";
  let text;
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, 256));
    if (decoded.length > 0 && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(decoded)) {
      text = decoded.length > 60 ? decoded.slice(0, 60) + "…" : decoded;
    }
  } catch {
    text = undefined;
  }
  return { size: `${bytes.length} byte${bytes.length === 1 ? "" : "s"}`, hex: hex + more, text };
}

/** A date in UTC, to the millisecond, the way RFC 3339 writes it. */
export function describeDate(date) {
  return Number.isNaN(date.getTime()) ? "Invalid Date" : date.toISOString();
}

const INLINE_WIDTH = 72;

/** About how many characters `value` takes on one line; stops counting past `budget`. */
function flatLength(value, budget) {
  if (value === null || value === undefined) return 4;
  if (typeof value === "string") return value.length + 2;
  if (value instanceof Uint8Array) return 12 + Math.min(value.length, MAX_BYTES_SHOWN) * 3;
  if (value instanceof Date) return 34;
  if (typeof value !== "object") return String(value).length;
  let total = 2;
  const entries = Array.isArray(value) ? value.map((item) => ["", item]) : Object.entries(value instanceof Map ? Object.fromEntries(value) : value);
  for (const [key, item] of entries) {
    total += (Array.isArray(value) ? 0 : key.length + 4) + flatLength(item, budget - total) + 2;
    if (total > budget) {
      return Infinity;
    }
  }
  return total;
}

/**
 * A value as a highlighted, indented tree of elements: JSON's look, with bytes, dates and big
 * integers shown for what they are.
 */
export function renderValue(value, depth = 0) {
  const pad = "  ".repeat(depth);
  if (value === null || value === undefined) {
    return h("span", { class: "t-null" }, "null");
  }
  if (typeof value === "bigint") {
    return h("span", { class: "t-number", title: "a 64-bit integer beyond ±2^53 (bigint)" }, value.toString());
  }
  if (typeof value === "number") {
    return h("span", { class: "t-number" }, Number.isFinite(value) ? String(value) : String(value));
  }
  if (typeof value === "boolean") {
    return h("span", { class: "t-bool" }, String(value));
  }
  if (typeof value === "string") {
    return h("span", { class: "t-string" }, JSON.stringify(value));
  }
  if (value instanceof Uint8Array) {
    const { size, hex, text } = describeBytes(value);
    return h(
      "span",
      { class: "t-bytes", title: `bytes, base64: ${toBase64(value.subarray(0, 3072))}` },
      h("span", { class: "t-tag" }, size),
      " ",
      hex,
      text === undefined ? null : h("span", { class: "t-bytes-text" }, ` ${JSON.stringify(text)}`),
    );
  }
  if (value instanceof Date) {
    return h(
      "span",
      { class: "t-date", title: Number.isNaN(value.getTime()) ? "" : `local time: ${value.toLocaleString()}` },
      h("span", { class: "t-tag" }, "datetime"),
      " ",
      describeDate(value),
    );
  }
  const entries = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value instanceof Map ? Object.fromEntries(value) : value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return h("span", { class: "t-punct" }, open + close);
  }
  if (flatLength(value, INLINE_WIDTH - 2 * depth) <= INLINE_WIDTH - 2 * depth) {
    // Short enough for one line: `{"a": 1, "b": [1, 2]}`
    const parts = [];
    entries.forEach(([key, item], i) => {
      if (!Array.isArray(value)) {
        parts.push(h("span", { class: "t-key" }, JSON.stringify(String(key))), h("span", { class: "t-punct" }, ": "));
      }
      parts.push(renderValue(item, depth + 1));
      if (i < entries.length - 1) parts.push(h("span", { class: "t-punct" }, ", "));
    });
    return h("span", {}, h("span", { class: "t-punct" }, open), parts, h("span", { class: "t-punct" }, close));
  }
  const children = [h("span", { class: "t-punct" }, open), "\n"];
  entries.forEach(([key, item], i) => {
    children.push(pad + "  ");
    if (!Array.isArray(value)) {
      children.push(h("span", { class: "t-key" }, JSON.stringify(String(key))), h("span", { class: "t-punct" }, ": "));
    }
    children.push(renderValue(item, depth + 1));
    if (i < entries.length - 1) children.push(h("span", { class: "t-punct" }, ","));
    children.push("\n");
  });
  children.push(pad, h("span", { class: "t-punct" }, close));
  return h("span", {}, children);
}

// Time.

/** `+12.3 ms`, `+1.24 s` */
export function formatOffset(ms) {
  if (ms < 1000) {
    return `+${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  }
  return `+${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** `12.3 ms`, `1.24 s`, `2 min 3 s` */
export function formatDuration(ms) {
  if (ms < 1000) {
    return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  }
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The wall clock time of a date: `14:03:27.512`. */
export function formatClock(date) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
