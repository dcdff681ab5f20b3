// The timeline of a call: a row for each message sent and received, the metadata, the end of each
// stream and the outcome, each with the time since the call started.
//
// Rows are made and shown once a frame, in a batch: a fast stream then costs one layout a frame,
// not one a message. At most MAX_ROWS rows of messages stay on screen, the newest; a note says
// how many earlier ones went, and rows for messages that would go at once are never made.

import { formatClock, formatOffset, h, renderValue } from "./dom.js";
import { MAX_ROWS } from "./state.js";

// What the arrows of the timeline say, for screen readers.
const SPOKEN = { sent: "sent: ", end: "sent: ", received: "received: ", leading: "received: ", trailing: "received: ", error: "error: " };

export class Timeline {
  /** @param {{label: string, live: boolean}} options `live`: read new rows out (aria-live) */
  constructor({ label, live }) {
    this.element = h("ol", { class: "timeline", "aria-label": label, "aria-live": live ? "polite" : "off", "aria-relevant": "additions" });
    /** Called after each batch of rows is shown. */
    this.onFlush = () => {};
    this.reset();
  }

  /** Start over, showing `placeholder` until the first row. */
  reset(placeholder = undefined) {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    /** @type {object[]} rows to show at the next frame */
    this.pending = [];
    this.startedAt = performance.now();
    this.rows = 0;
    this.messageRows = 0; // rows of messages sent and received: at most MAX_ROWS
    this.dropped = 0;
    this.element.replaceChildren(...(placeholder === undefined ? [] : [placeholder]));
  }

  /** Whether rows wait to be shown. */
  get busy() {
    return this.pending.length > 0;
  }

  /**
   * Add a row, shown at the next frame.
   *
   * @param {string} type sent, received, leading, trailing, end, done, error, info
   * @param {string} label
   * @param {unknown} [value] shown as a value (or as text, for errors and notes)
   * @param {unknown} [data] an error's data
   * @param {string} [dataLabel] what to call it ("data", or "detail" for a declared error's)
   */
  add(type, label, value = undefined, data = undefined, dataLabel = "data") {
    this.pending.push({ type, label, value, data, dataLabel, at: performance.now() - this.startedAt, clock: new Date() });
    if (this.flushTimer === undefined) {
      const run = () => {
        cancelAnimationFrame(frame);
        clearTimeout(this.flushTimer);
        this.flushTimer = undefined;
        this.flush();
      };
      const frame = requestAnimationFrame(run);
      this.flushTimer = setTimeout(run, 100); // where frames don't come (a hidden tab)
    }
  }

  flush() {
    const events = this.keepNewest(this.pending);
    this.pending = [];
    if (this.rows === 0 && events.length > 0) {
      this.element.replaceChildren();
    }
    const pinned = this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < 40;
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      fragment.append(eventRow(event));
      this.rows += 1;
      this.messageRows += isMessage(event.type) ? 1 : 0;
    }
    this.element.append(fragment);
    this.trim();
    if (pinned) {
      this.element.scrollTop = this.element.scrollHeight;
    }
    this.onFlush();
  }

  /** Of a batch with more messages than the screen keeps, the events without the oldest ones. */
  keepNewest(events) {
    let excess = events.filter((event) => isMessage(event.type)).length - MAX_ROWS;
    if (excess <= 0) {
      return events;
    }
    const kept = [];
    for (const event of events) {
      if (excess > 0 && isMessage(event.type)) {
        excess -= 1;
        this.dropped += 1;
      } else {
        kept.push(event);
      }
    }
    return kept;
  }

  /** Drop the oldest messages on screen beyond MAX_ROWS, and say how many went. */
  trim() {
    let remove = this.messageRows - MAX_ROWS;
    for (const row of remove > 0 ? [...this.element.children] : []) {
      if (remove === 0) break;
      if (row.classList.contains("event-received") || row.classList.contains("event-sent")) {
        row.remove();
        remove -= 1;
        this.rows -= 1;
        this.messageRows -= 1;
        this.dropped += 1;
      }
    }
    if (this.dropped > 0) {
      let note = this.element.querySelector(".event-dropped");
      if (note === null) {
        note = h("li", { class: "event event-dropped" });
        this.element.prepend(note);
      }
      note.textContent = `${this.dropped} earlier message${this.dropped === 1 ? "" : "s"} not shown`;
    }
  }


}

const ARROWS = { sent: "→", end: "→", received: "←", leading: "←", trailing: "←", error: "✕", done: "✓", info: "·" };

function isMessage(type) {
  return type === "received" || type === "sent";
}

/** The row of one timeline event. */
function eventRow({ type, label, value, data, dataLabel, at, clock }) {
  const body =
    value === undefined
      ? null
      : typeof value === "string" && (type === "error" || type === "info")
        ? h("div", { class: "event-text" }, value)
        : h("pre", { class: "event-value" }, renderValue(value));
  const extra = data === null || data === undefined ? null : [h("div", { class: "event-sublabel" }, dataLabel), h("pre", { class: "event-value" }, renderValue(data))];
  return h(
    "li",
    { class: `event event-${type}` },
    h("span", { class: "event-time", title: formatClock(clock) }, formatOffset(at)),
    h("span", { class: "event-arrow", "aria-hidden": "true" }, ARROWS[type] ?? "·"),
    h("div", { class: "event-main" }, h("div", { class: "event-label" }, SPOKEN[type] ? h("span", { class: "visually-hidden" }, SPOKEN[type]) : null, label), body, extra),
  );
}

