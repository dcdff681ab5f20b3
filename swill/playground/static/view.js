// One rpc: its docs, its types, the editors, and the calls made to it, shown as a timeline.
//
// Rules this module keeps:
//
// 1. A message is checked against its schema before it is sent; problems are shown at their
//    place in the editor, and nothing goes out unless the user says "Send anyway". The server's
//    own INVALID_ARGUMENT problems are shown the same way.
// 2. A view lives as long as the page: a call goes on (and its messages keep arriving) while
//    another rpc is on screen.

import { SwillError } from "./client.js";
import { noteFailure } from "./connection.js";
import { formatDuration, h, icon, kindBadge, richText } from "./dom.js";
import { Editor } from "./editor.js";
import { addHistory, finishHistory } from "./history.js";
import { JsonSyntaxError, findSpan, parse, stringify } from "./json.js";
import { toWire, validate } from "./check.js";
import { example } from "./schema.js";
import { MAX_REPLAY, MAX_ROWS, MOD, session, state } from "./state.js";
import { Timeline } from "./timeline.js";
import { renderType } from "./types.js";


const KIND_HINTS = {
  unary: "One request, one response.",
  server_stream: "One request; the response messages arrive as a stream.",
  client_stream: "Open the stream with the first message, send more, then end the stream to get the response.",
  bidi: "Open the stream with the first message, send more while responses arrive, end the stream when done.",
};

const LIVE_HINT =
  "A live stream: send the id of the last event you saw (null for new ones only). It resumes by itself, after the last event shown, when the connection drops or the server restarts.";

/**
 * What the view needs of a live stream: iterated like a call's responses, cancelled like a call.
 * @typedef {{
 *   leadingMetadata: undefined,
 *   trailingMetadata: undefined,
 *   cancel: (reason?: string) => void,
 *   [Symbol.asyncIterator](): AsyncGenerator<unknown, void, unknown>,
 * }} LiveCall
 */

export class RpcView {
  constructor(rpc) {
    this.rpc = rpc;
    this.streamsRequest = rpc.kind === "client_stream" || rpc.kind === "bidi";
    this.streamsResponse = rpc.kind === "server_stream" || rpc.kind === "bidi";
    // A resumable stream (docs/protocol.md, "Resumable streams") is shown live, through client.subscribe().
    this.resumable = rpc.resumable === true && rpc.kind === "server_stream";
    /** @type {import("./client.js").Call | LiveCall | undefined} */
    this.active = undefined;
    /** @type {number | undefined} The id of the last event a live stream delivered. */
    this.lastEventId = undefined;
    this.build();
    this.resetTimeline();
  }

  build() {
    const id = this.rpc.name.replace(/[^\w-]/g, "_");
    this.makeEditors(id);
    this.makeControls();
    const rpc = this.rpc;
    const doc = rpc.description
      ? h("details", { class: "rpc-description" }, h("summary", {}, "More"), h("div", { class: "rpc-doc" }, richText(rpc.description)))
      : null;
    this.element = h(
      "article",
      { class: "rpc-view", "aria-labelledby": `title-${id}` },
      h(
        "header",
        { class: "rpc-header" },
        h("div", { class: "rpc-title-row" }, h("h1", { class: "rpc-title", id: `title-${id}` }, rpc.name), kindBadge(rpc.kind), this.resumable ? h("span", { class: "chip chip-live", title: "Resumable: re-opens by itself after a lost connection" }, "live") : null, rpc.builtin ? h("span", { class: "chip" }, "built-in") : null),
        h("p", { class: "rpc-summary" }, rpc.summary || rpc.doc ? richText(rpc.summary ?? rpc.doc) : h("span", { class: "muted" }, "No docstring.")),
        doc,
      ),
      h("div", { class: "workbench" }, this.requestPane(id), this.responsePane(id)),
    );
    this.updateButtons();
  }

  /** The message and metadata editors and the timeout field; they keep the session's values. */
  makeEditors(id) {
    const rpc = this.rpc;
    this.editor = new Editor({ id: `request-${id}`, label: this.streamsRequest ? "Message" : "Request message", minLines: 4 });
    this.editor.value = state.drafts.get(rpc.name) ?? this.example();
    this.editor.onInput = () => {
      state.drafts.set(rpc.name, this.editor.value);
      session.set("drafts", Object.fromEntries(state.drafts));
      this.checkLive();
    };
    this.metadata = new Editor({ id: `metadata-${id}`, label: "Metadata", minLines: 1 });
    this.metadata.onInput = () => {
      state.metadata = this.metadata.value;
      session.set("metadata", state.metadata);
      this.metadata.setProblems([]);
    };
    this.timeout = h("input", {
      id: `timeout-${id}`,
      class: "input timeout-input",
      type: "number",
      min: "1",
      step: "1",
      inputmode: "numeric",
      placeholder: "none",
      "aria-describedby": `timeout-${id}-unit`,
      oninput: () => {
        state.timeout = this.timeout.value;
        session.set("timeout", state.timeout);
        this.timeout.removeAttribute("aria-invalid");
      },
    });
  }

  /** The buttons, the status badge, the counts and the timeline. */
  makeControls() {
    this.buttons = {
      call: button(this.streamsRequest ? "Open stream" : "Call", "play", "primary", () => this.primary(), `${MOD}+Enter`),
      send: button("Send", "send", "primary", () => this.sendMessage(), `${MOD}+Enter`),
      end: button("End stream", "end", "", () => this.endStream(), `${MOD}+Shift+Enter`),
      cancel: button("Cancel", "stop", "danger-ghost", () => this.cancel(), "Esc"),
      anyway: button("Send anyway", "send", "ghost warn", () => this.primary({ force: true })),
    };
    this.buttons.anyway.hidden = true;
    this.status = h("span", { class: "status-badge", "data-state": "idle", role: "status" }, "Ready");
    this.stats = h("span", { class: "stats", "aria-live": "off" });
    // A single response is read out when it comes; a stream would drown the reader, whose status
    // badge says how the call went.
    this.timeline = new Timeline({ label: "Messages and events of the call", live: !this.streamsResponse });
    this.timeline.onFlush = () => {
      if (this.nextStatus !== undefined) {
        this.setStatus(...this.nextStatus);
      }
      this.updateStats();
    };
  }

  requestPane(id) {
    const tool = (label, iconName, title, onclick) => h("button", { type: "button", class: "button small ghost", title, onclick }, icon(iconName), label);
    return h(
      "section",
      { class: "pane request-pane", "aria-labelledby": `req-${id}` },
      h(
        "div",
        { class: "pane-head" },
        h("h2", { id: `req-${id}` }, this.streamsRequest ? "Request stream" : "Request"),
        h(
          "div",
          { class: "pane-tools" },
          tool("Example", "wand", "Replace the message with an example made from the schema", () => this.resetExample()),
          tool("Format", "format", "Indent the JSON", () => this.format()),
        ),
      ),
      h("details", { class: "type-details", open: true }, h("summary", {}, "Type"), renderType(state.schemas, this.rpc.request?.schema ?? {}, this.streamsRequest)),
      h("label", { class: "field-label", for: `request-${id}` }, this.streamsRequest ? "Message (JSON)" : "Request message (JSON)"),
      this.editor.element,
      h(
        "div",
        { class: "options" },
        h("div", { class: "field metadata-field" }, h("label", { class: "field-label", for: `metadata-${id}` }, "Metadata ", h("span", { class: "muted" }, "(JSON object, sent with the call)")), this.metadata.element),
        h(
          "div",
          { class: "field timeout-field" },
          h("label", { class: "field-label", for: `timeout-${id}` }, "Timeout"),
          h("div", { class: "input-unit" }, this.timeout, h("span", { class: "unit", id: `timeout-${id}-unit` }, "ms")),
        ),
      ),
      h("p", { class: "hint" }, this.resumable ? LIVE_HINT : KIND_HINTS[this.rpc.kind]),
      h("div", { class: "actions" }, this.buttons.call, this.buttons.send, this.buttons.end, this.buttons.cancel, this.buttons.anyway),
    );
  }

  responsePane(id) {
    const tool = (label, iconName, onclick) => h("button", { type: "button", class: "icon-button small", "aria-label": label, title: label, onclick }, icon(iconName));
    return h(
      "section",
      { class: "pane response-pane", "aria-labelledby": `res-${id}` },
      h(
        "div",
        { class: "pane-head" },
        h("h2", { id: `res-${id}` }, this.streamsResponse ? "Response stream" : "Response"),
        this.status,
        this.stats,
        h("div", { class: "pane-tools" }, tool("Copy the response as JSON", "copy", () => this.copy()), tool("Clear the response", "clear", () => this.resetTimeline())),
      ),
      h("details", { class: "type-details" }, h("summary", {}, "Type"), renderType(state.schemas, this.rpc.response?.schema ?? {}, this.streamsResponse)),
      this.declaredErrors(),
      this.timeline.element,
    );
  }

  /** The errors the rpc declares (name, code, doc, the type of their detail), if any. */
  declaredErrors() {
    const errors = this.rpc.errors ?? [];
    if (errors.length === 0) {
      return null;
    }
    const items = errors.map((error) =>
      h(
        "li",
        { class: "declared-error" },
        h("div", { class: "declared-error-head" }, h("code", { class: "declared-error-name" }, error.name), h("span", { class: "chip" }, error.code)),
        error.doc ? h("p", { class: "declared-error-doc" }, richText(error.doc.split("\n")[0])) : null,
        renderType(state.schemas, error.schema ?? {}, false),
      ),
    );
    return h("details", { class: "type-details declared-errors" }, h("summary", {}, `Declared errors (${errors.length})`), h("ul", { class: "declared-error-list" }, ...items));
  }

  /** The declared error `error` is, or undefined: same name in `data.error`, same code. */
  declared(error) {
    const name = error.data !== null && typeof error.data === "object" ? error.data.error : undefined;
    return (this.rpc.errors ?? []).find((declared) => declared.name === name && declared.code === error.code);
  }

  /** Refresh what other views may have changed: the shared metadata and timeout. */
  show() {
    if (this.metadata.value !== state.metadata) {
      this.metadata.value = state.metadata;
    }
    if (this.timeout.value !== state.timeout) {
      this.timeout.value = state.timeout;
    }
  }

  example() {
    return stringify(example(state.schemas, this.rpc.request?.schema ?? {}));
  }

  resetExample() {
    this.editor.value = this.example();
    this.editor.onInput();
    this.editor.setProblems([]);
    this.editor.focus();
  }

  format() {
    try {
      this.editor.value = stringify(parse(this.editor.value).value);
      this.editor.onInput();
    } catch (error) {
      this.check();
    }
  }

  // Checking what is about to be sent.

  /** The message in the editor, checked: `{value}` to send, or `{problems}` shown in the editor. */
  check() {
    const text = this.editor.value;
    let parsed;
    try {
      parsed = parse(text);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      const problem = { message: `Not JSON: ${error.message}`, start: error.offset, end: error.offset + 1, source: "syntax" };
      this.editor.setProblems([problem]);
      return { problems: [problem], syntax: true };
    }
    const schema = this.rpc.request?.schema ?? {};
    const problems = validate(state.schemas, schema, parsed.value).map((problem) => located(problem, parsed.spans, "client"));
    this.editor.setProblems(problems);
    return problems.length > 0 ? { problems, parsed } : { value: toWire(state.schemas, schema, parsed.value), text };
  }

  /** After a failed check, check again as the user types, so problems go away once fixed. */
  checkLive() {
    this.buttons.anyway.hidden = true;
    if (this.editor.problems.length > 0) {
      this.check();
    }
  }

  readMetadata() {
    let parsed;
    try {
      parsed = parse(this.metadata.value.trim() || "{}");
    } catch (error) {
      this.metadata.setProblems([{ message: `Not JSON: ${error.message}`, start: error.offset, end: error.offset + 1, source: "syntax" }]);
      return undefined;
    }
    const value = parsed.value;
    if (value === null) {
      return {};
    }
    if (typeof value !== "object" || Array.isArray(value)) {
      this.metadata.setProblems([{ message: "Metadata is a JSON object: {\"key\": value}", start: 0, end: 1 }]);
      return undefined;
    }
    const reserved = Object.keys(value).filter((key) => key.startsWith("swill-"));
    if (reserved.length > 0) {
      this.metadata.setProblems(reserved.map((key) => located({ path: `$.${key}`, message: "Keys beginning with swill- are reserved" }, parsed.spans, "client")));
      return undefined;
    }
    this.metadata.setProblems([]);
    return value;
  }

  readTimeout() {
    const text = this.timeout.value.trim();
    if (text === "") {
      return { ms: undefined };
    }
    const ms = Number(text);
    if (!Number.isInteger(ms) || ms < 1) {
      this.timeout.setAttribute("aria-invalid", "true");
      this.timeout.focus();
      return undefined;
    }
    return { ms };
  }

  // Calling.

  /**
   * Ctrl+Enter: start a call, or send the next message of an open request stream.
   *
   * @param {{force?: boolean, replay?: {sent: string[], ended: boolean}}} [options]
   *   `force` sends a message the schema refuses; `replay` sends more messages after the first.
   */
  primary({ force = false, replay = undefined } = {}) {
    if (this.active !== undefined) {
      if (this.streamsRequest) {
        this.sendMessage({ force });
      }
      return;
    }
    const checked = this.check();
    this.buttons.anyway.hidden = true;
    let value;
    if (checked.problems !== undefined) {
      if (!force || checked.syntax) {
        this.buttons.anyway.hidden = checked.syntax === true;
        this.editor.focus();
        return;
      }
      value = toWire(state.schemas, this.rpc.request?.schema ?? {}, checked.parsed.value);
      this.editor.setProblems([]);
    } else {
      value = checked.value;
    }
    const metadata = this.readMetadata();
    const timeout = this.readTimeout();
    if (metadata === undefined || timeout === undefined) {
      return;
    }
    this.start(value, this.editor.value, metadata, timeout.ms, replay);
  }

  async start(value, text, metadata, timeoutMs, replay) {
    const rpc = this.rpc;
    this.resetTimeline();
    const call = this.resumable ? this.subscription(value, metadata) : state.client.open(rpc.name, value, { metadata, timeoutMs });
    this.active = call;
    this.sentTexts = [text];
    this.ended = false;
    this.entry = addHistory({ rpc: rpc.name, kind: rpc.kind, request: text, sent: [text], ended: false, metadata: this.metadata.value, timeout: this.timeout.value });
    this.updateButtons();
    this.timeline.add("sent", this.streamsRequest ? "message #1" : "request", value);
    this.sentCount = 1;
    this.setStatus("running", this.resumable ? "Live" : this.streamsResponse || this.streamsRequest ? "Streaming" : "Waiting");
    const ticks = setInterval(() => this.tick(call), 250);
    try {
      if (replay !== undefined) {
        this.replay(call, replay);
      }
      await this.read(call);
    } catch (error) {
      const failure = SwillError.from(error);
      this.leading(call);
      this.trailing(call);
      this.failed(failure);
      noteFailure(failure);
    } finally {
      clearInterval(ticks);
      this.finished();
    }
  }

  /**
   * A resumable stream's events, as a call-like object: iterating it yields each event's value
   * (after a row saying what was missed, when something was); cancel() stops it.
   */
  /** @returns {LiveCall} */
  subscription(after, metadata) {
    const controller = new AbortController();
    const events = state.client.subscribe(this.rpc.name, { after: typeof after === "number" ? after : null, signal: controller.signal, metadata });
    const view = this;
    return {
      leadingMetadata: undefined,
      trailingMetadata: undefined,
      cancel: (reason) => controller.abort(new SwillError("CANCELLED", reason)),
      async *[Symbol.asyncIterator]() {
        for await (const event of events) {
          if (event.restarted) {
            view.timeline.add("info", "restarted", `the ids began again at ${event.id}: the server lost its state`);
          } else if (event.missed > 0) {
            view.timeline.add("info", `missed ${event.missed}`, `${event.missed} event${event.missed === 1 ? "" : "s"} skipped before #${event.id}`);
          }
          view.lastEventId = event.id;
          yield event.value;
        }
      },
    };
  }

  /** Show the call's messages as they come, then how it ended. */
  async read(call) {
    for await (const message of call) {
      this.leading(call);
      this.received += 1;
      this.messages.push(message);
      if (this.messages.length > MAX_ROWS) {
        this.messages.shift(); // what Copy copies is what is on screen
      }
      const label = this.resumable ? `event #${this.lastEventId}` : this.streamsResponse ? `message #${this.received}` : "response";
      this.timeline.add("received", label, message);
    }
    this.leading(call);
    this.trailing(call);
    const count = `${this.received} message${this.received === 1 ? "" : "s"}`;
    this.timeline.add("done", this.streamsResponse ? `end of stream · ${count}` : "completed");
    this.setStatus("ok", "OK");
  }

  finished() {
    this.active = undefined;
    this.updateStats();
    this.updateButtons();
    finishHistory(this.entry, {
      status: this.statusText,
      durationMs: performance.now() - this.timeline.startedAt,
      received: this.received,
      sent: this.sentTexts,
      ended: this.ended,
    });
  }

  async replay(call, { sent, ended }) {
    for (const text of sent) {
      let parsed;
      try {
        parsed = parse(text).value;
      } catch {
        continue;
      }
      await this.send(call, toWire(state.schemas, this.rpc.request?.schema ?? {}, parsed), text);
    }
    if (ended) {
      await this.end(call);
    }
  }

  tick(call) {
    this.leading(call);
    this.updateStats();
  }

  sendMessage({ force = false } = {}) {
    const call = this.active;
    if (call === undefined || !this.streamsRequest || this.ended) {
      return;
    }
    const checked = this.check();
    let value = checked.value;
    if (checked.problems !== undefined) {
      if (!force || checked.syntax) {
        this.buttons.anyway.hidden = checked.syntax === true;
        this.editor.focus();
        return;
      }
      value = toWire(state.schemas, this.rpc.request?.schema ?? {}, checked.parsed.value);
      this.editor.setProblems([]);
    }
    this.buttons.anyway.hidden = true;
    this.send(call, value, this.editor.value);
  }

  async send(call, value, text) {
    this.sentCount += 1;
    if (this.sentTexts.length < MAX_REPLAY) {
      this.sentTexts.push(text);
    }
    this.timeline.add("sent", `message #${this.sentCount}`, value);
    this.updateStats();
    try {
      await call.send(value);
    } catch (error) {
      const failure = SwillError.from(error);
      if (!call.done) {
        this.timeline.add("error", `not sent: ${failure.code}`, failure.message);
      }
    }
  }

  endStream() {
    if (this.active !== undefined && this.streamsRequest && !this.ended) {
      this.end(this.active);
    }
  }

  async end(call) {
    this.ended = true;
    this.updateButtons();
    this.timeline.add("end", "end of stream");
    await call.end();
  }

  cancel() {
    this.active?.cancel("cancelled in the playground");
  }

  // Showing what happens.

  resetTimeline() {
    this.timeline.reset(
      h(
        "li",
        { class: "timeline-empty" },
        h("p", {}, this.streamsRequest ? "Open the stream to see its messages here." : "Call the rpc to see its response here."),
        h("p", {}, h("kbd", {}, MOD), " + ", h("kbd", {}, "Enter"), this.streamsRequest ? " opens the stream and sends the message" : " calls"),
      ),
    );
    this.received = 0;
    this.sentCount = 0;
    this.messages = [];
    this.shownLeading = false;
    this.shownTrailing = false;
    this.lastError = undefined;
    this.setStatus("idle", "Ready");
    this.updateStats();
  }


  leading(call) {
    const metadata = call.leadingMetadata;
    if (!this.shownLeading && metadata !== undefined) {
      this.shownLeading = true;
      if (Object.keys(metadata).length > 0) {
        this.timeline.add("leading", "leading metadata", metadata);
      }
    }
  }

  trailing(call) {
    const metadata = call.trailingMetadata;
    if (!this.shownTrailing && metadata !== undefined) {
      this.shownTrailing = true;
      if (Object.keys(metadata).length > 0) {
        this.timeline.add("trailing", "trailing metadata", metadata);
      }
    }
  }

  failed(error) {
    this.lastError = error;
    if (error.code === "CANCELLED") {
      this.timeline.add("info", "cancelled", error.message);
      this.setStatus("cancelled", "CANCELLED");
      return;
    }
    const declared = this.declared(error);
    if (declared !== undefined) {
      // Shown by name, with its typed detail rather than the envelope around it.
      this.timeline.add("error", `${declared.name} (${error.code})`, error.message, error.data.detail, "detail");
    } else {
      this.timeline.add("error", error.code, error.message, error.data);
    }
    this.setStatus("error", error.code);
    if (error.code === "INVALID_ARGUMENT" && Array.isArray(error.data)) {
      this.showServerProblems(error.data);
    }
  }

  /** The server's validation problems, at their place in the message that was last sent. */
  showServerProblems(data) {
    const problems = data.filter((item) => item && typeof item.path === "string" && typeof item.message === "string");
    if (problems.length === 0) {
      return;
    }
    let spans = new Map();
    try {
      if (this.editor.value === this.sentTexts.at(-1)) {
        spans = parse(this.editor.value).spans;
      }
    } catch {
      spans = new Map();
    }
    const last = this.sentCount - 1; // in a streamed request, the server names a message by its index
    this.editor.setProblems(
      problems.map((problem) => {
        if (typeof problem.index !== "number") {
          return located(problem, spans, "server");
        }
        const named = { ...problem, message: `Message #${problem.index + 1}: ${problem.message}` };
        return problem.index === last ? located(named, spans, "server") : { ...named, source: "server" };
      }),
    );
  }

  /** Show the call's status; with rows still to show, together with them. */
  setStatus(kind, text) {
    this.statusText = text;
    if (this.timeline.busy) {
      this.nextStatus = [kind, text];
      return;
    }
    this.nextStatus = undefined;
    this.status.dataset.state = kind;
    this.status.textContent = text;
  }


  updateStats() {
    const parts = [];
    if (this.streamsRequest || this.sentCount > 1) parts.push(`${this.sentCount} sent`);
    if (this.streamsResponse) parts.push(`${this.received} received`);
    if (this.timeline.rows > 0 || this.active !== undefined) parts.push(formatDuration(performance.now() - this.timeline.startedAt));
    this.stats.textContent = parts.join(" · ");
  }

  updateButtons() {
    const active = this.active !== undefined;
    const { call, send, end, cancel } = this.buttons;
    call.hidden = active && this.streamsRequest;
    call.disabled = active;
    send.hidden = !(active && this.streamsRequest);
    end.hidden = !this.streamsRequest;
    end.disabled = !active || this.ended;
    send.disabled = !active || this.ended;
    cancel.disabled = !active;
  }

  copy() {
    const value = this.streamsResponse ? this.messages : this.messages[0];
    const text = stringify(this.lastError ? { code: this.lastError.code, message: this.lastError.message, data: this.lastError.data } : value ?? null);
    navigator.clipboard?.writeText(text).catch(() => undefined);
  }
}

function button(label, iconName, variant, onclick, shortcut) {
  return h(
    "button",
    { type: "button", class: `button ${variant}`, onclick, "aria-keyshortcuts": shortcut ? shortcut.replace("⌘", "Meta").replace("Ctrl", "Control") : null, title: shortcut ? `${label} (${shortcut})` : null },
    icon(iconName),
    h("span", {}, label),
    // The main action shows its key; the others say it in their tooltip, to keep the row short.
    shortcut && variant === "primary" ? h("kbd", { class: "button-kbd", "aria-hidden": "true" }, `${MOD} ↵`) : null,
  );
}

/** A problem placed in the text: the key and value it is about, or the nearest thing that exists. */
function located(problem, spans, source) {
  const span = findSpan(spans, problem.path);
  if (span === undefined) {
    return { ...problem, source };
  }
  const start = span.keyStart ?? span.start;
  const end = span.keyStart !== undefined && span.end - span.start > 60 ? span.keyEnd : span.end;
  return { ...problem, start, end, source };
}

