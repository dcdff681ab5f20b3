// A small JSON editor: a textarea over a highlighted copy of its text. The copy shows syntax
// colours, underlines the problems and writes each problem's message at the end of its line, so
// an error at `$.items[0].qty` is read next to that field. Both layers sit in one grid cell, so
// they always have the same size and scroll together; the textarea's own text is transparent.

import { tokenize } from "./json.js";
import { h } from "./dom.js";

/** @typedef {{message: string, path?: string, start?: number, end?: number, source?: string}} Problem */

export class Editor {
  /**
   * @param {{id: string, label: string, minLines?: number}} options
   */
  constructor({ id, label, minLines = 3 }) {
    this.minLines = minLines;
    /** @type {Problem[]} */
    this.problems = [];
    /** Called after each change the user makes. */
    this.onInput = () => {};
    this.view = h("pre", { class: "editor-view", "aria-hidden": "true" });
    this.input = h("textarea", {
      id,
      class: "editor-input",
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      wrap: "off",
      "aria-label": label,
      "aria-describedby": `${id}-problems`,
    });
    this.gutter = h("div", { class: "editor-gutter", "aria-hidden": "true" });
    this.list = h("ul", { class: "problems", id: `${id}-problems`, "aria-live": "polite", "aria-label": `Problems in ${label.toLowerCase()}` });
    this.element = h(
      "div",
      { class: "editor-wrap" },
      h("div", { class: "editor" }, this.gutter, h("div", { class: "editor-body" }, h("div", { class: "editor-sizer" }, this.view, this.input))),
      this.list,
    );
    this.input.addEventListener("input", () => {
      this.render();
      this.onInput?.();
    });
    this.input.addEventListener("keydown", (event) => this.#keydown(event));
    this.render();
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text;
    this.render();
  }

  focus() {
    this.input.focus();
  }

  /** Show problems; those with a `start` are underlined in the text and told at their line's end. */
  setProblems(problems) {
    this.problems = problems;
    this.render();
    this.list.replaceChildren(
      ...problems.map((problem) =>
        h(
          "li",
          { class: `problem ${problem.source ?? ""}` },
          h(
            "button",
            {
              type: "button",
              class: "problem-jump",
              title: problem.start === undefined ? "" : "Show in the editor",
              onclick: () => this.select(problem.start, problem.end),
            },
            problem.path === undefined ? null : h("code", { class: "problem-path" }, problem.path),
            h("span", { class: "problem-message" }, problem.message),
            problem.source === "server" ? h("span", { class: "problem-source" }, "server") : null,
          ),
        ),
      ),
    );
    this.element.classList.toggle("has-problems", problems.length > 0);
  }

  /** Select a range of the text and bring it into view. */
  select(start, end = start) {
    if (start === undefined) {
      return;
    }
    this.input.focus();
    this.input.setSelectionRange(start, end);
    const line = this.input.value.slice(0, start).split("\n").length - 1;
    this.gutter.children[line]?.scrollIntoView({ block: "nearest" });
  }

  render() {
    const text = this.input.value;
    const lines = text.split("\n");
    const lineStarts = [0];
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") {
        lineStarts.push(i + 1);
      }
    }
    const lineOf = (offset) => {
      let line = 0;
      while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) {
        line += 1;
      }
      return line;
    };
    const marked = this.problems.filter((p) => p.start !== undefined);
    const lens = new Map();
    for (const problem of marked) {
      const line = lineOf(problem.start);
      lens.set(line, [...(lens.get(line) ?? []), problem.message]);
    }
    const inMark = (offset) => marked.some((p) => offset >= p.start && offset < Math.max(p.end, p.start + 1));
    const cuts = new Set(marked.flatMap((p) => [p.start, Math.max(p.end, p.start + 1)]));
    let html = "";
    let offset = 0;
    let line = 0;
    const endLine = () => {
      const messages = lens.get(line);
      if (messages !== undefined) {
        html += `<span class="lens">${escape(messages.join(" · "))}</span>`;
      }
      line += 1;
    };
    for (const token of tokenize(text)) {
      // Cut tokens at newlines and at mark edges, so that every piece has one look.
      let piece = "";
      const flush = () => {
        if (piece) {
          const start = offset - piece.length;
          const cls = `t-${token.type}${inMark(start) ? " mark" : ""}`;
          html += `<span class="${cls}">${escape(piece)}</span>`;
          piece = "";
        }
      };
      for (const char of token.text) {
        if (cuts.has(offset)) {
          flush();
        }
        if (char === "\n") {
          flush();
          endLine();
          html += "\n";
        } else {
          piece += char;
        }
        offset += char.length;
      }
      flush();
    }
    endLine();
    this.view.innerHTML = html + "\n";
    const count = Math.max(lines.length, this.minLines);
    const problemLines = new Set(marked.map((p) => lineOf(p.start)));
    if (this.gutter.children.length !== count || problemLines.size > 0 || this.gutter.dataset.marked === "1") {
      this.gutter.replaceChildren(
        ...Array.from({ length: count }, (_, i) => h("div", { class: problemLines.has(i) ? "gutter-line has-problem" : "gutter-line" }, String(i + 1))),
      );
      this.gutter.dataset.marked = problemLines.size > 0 ? "1" : "0";
    }
    this.input.rows = count;
  }

  #keydown(event) {
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey) {
      // Keep the indentation, one level more after an opening bracket.
      const { selectionStart: start, selectionEnd: end, value } = this.input;
      const lineStart = value.lastIndexOf("\n", start - 1) + 1;
      const indent = /^[ \t]*/.exec(value.slice(lineStart, start))[0];
      const before = value.slice(0, start).trimEnd().at(-1);
      const after = value.slice(end).trimStart()[0];
      const opens = before === "{" || before === "[";
      const closes = opens && ((before === "{" && after === "}") || (before === "[" && after === "]"));
      let insert = "\n" + indent + (opens ? "  " : "");
      const caret = insert.length;
      if (closes) {
        insert += "\n" + indent;
      }
      event.preventDefault();
      insertText(this.input, insert);
      this.input.setSelectionRange(start + caret, start + caret);
    }
  }
}

/** Insert text at the caret the way typing does, so that undo still works. */
function insertText(textarea, text) {
  if (!document.execCommand?.("insertText", false, text)) {
    textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
    textarea.dispatchEvent(new Event("input"));
  }
}

function escape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
