// Drives the playground in headless Chromium (Debian's /usr/bin/chromium, never a downloaded
// browser) with playwright-core, one scenario per run:
//
//   node tests/browser/playground.mjs <scenario>
//
// Environment: SWILL_URL (the server's origin, http://127.0.0.1:<port>), SWILL_PAGE (the page's
// path, default /swill), ARTIFACTS (where screenshots go). playwright-core is resolved from
// clients/typescript/node_modules (or PLAYWRIGHT_FROM, a folder with a package.json).
//
// A scenario that needs the test to act on the server prints `@@ <request>` and waits for a line
// on stdin. Every scenario also checks that the page fetched nothing from anywhere but the
// server, and that no script error happened.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { REPO, ask, hangUp, launch } from "./driver.mjs";


const TIMEOUT = 10_000;
const BASE = process.env.SWILL_URL;
const PAGE = process.env.SWILL_PAGE ?? "/swill";
const ARTIFACTS = process.env.ARTIFACTS ?? path.join(REPO, "test-artifacts", "playground");

// Talking to the test that runs us.


// Page helpers.

/** Open the page on one rpc and wait until it is connected and shows it. */
async function open(page, rpc, pagePath = PAGE) {
  await page.goto(`${BASE}${pagePath}#${encodeURIComponent(rpc)}`);
  await page.locator(".rpc-title", { hasText: new RegExp(`^${rpc.replace(/\./g, "\\.")}$`) }).waitFor();
  await page.locator("#connection[data-state='open']").waitFor();
}

const editor = (page) => page.locator(".rpc-view .editor-input").first();
const metadata = (page) => page.getByLabel("Metadata", { exact: true });
const events = (page, type) => page.locator(`.rpc-view .timeline .event-${type}`);
const status = (page) => page.locator(".rpc-view .status-badge");

async function typeMessage(page, text) {
  await editor(page).fill(text);
}

async function waitCount(page, selector, count) {
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length >= n, [selector, count], { timeout: TIMEOUT });
}

async function statusIs(page, text, timeout = TIMEOUT) {
  await page.locator(".rpc-view .status-badge", { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout });
}

async function textOf(locator) {
  return (await locator.innerText()).replace(/\s+/g, " ").trim();
}

async function shot(page, name, options = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), ...options });
}

// Scenarios.

const scenarios = {
  /** Unary: a response, its timing, the history entry, then a run again from the history. */
  async unary(page) {
    await open(page, "add");
    await typeMessage(page, "[2, 40]");
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
    assert.match(await textOf(events(page, "received")), /^\+\S+ m?s ← received: response 42$/);
    assert.match(await textOf(events(page, "sent")), /request \[2, 40\]/);
    assert.match(await textOf(page.locator(".rpc-view .stats")), /^\d+(\.\d)? ms$/);
    await page.getByRole("tab", { name: /History/ }).click();
    const item = page.locator(".history-item").first();
    assert.match(await textOf(item), /^add OK/);
    await typeMessage(page, "[1, 1]");
    await page.getByRole("button", { name: /^Run add at .* again$/ }).first().click();
    await waitCount(page, ".history-item", 2);
    await statusIs(page, "OK");
    assert.equal(await editor(page).inputValue(), "[2, 40]", "the history entry's message is back in the editor");
    assert.match(await textOf(events(page, "received")), /response 42$/);
    await shot(page, "unary");
  },

  /** Server stream: messages appended live with their count, then the end of the stream. */
  async server_stream(page) {
    await open(page, "notes.list");
    await typeMessage(page, '{"limit": 10}');
    await page.getByRole("button", { name: /^Call/ }).click();
    await statusIs(page, "OK");
    assert.equal(await events(page, "received").count(), 2);
    assert.match(await textOf(events(page, "received").nth(0)), /message #1 .*"title": "Water the plants"/);
    assert.match(await textOf(events(page, "received").nth(1)), /message #2 .*"tags": \["work", "urgent"\]/);
    assert.match(await textOf(page.locator(".rpc-view .stats")), /^2 received · /);
    assert.match(await textOf(events(page, "done")), /end of stream · 2 messages/);
    // Dates come as dates (the timestamp extension), shown in UTC with a tag.
    assert.match(await textOf(events(page, "received").nth(1)), /"due": datetime 2025-05-03T09:30:00\.000Z/);
    for (const time of await events(page, "received").locator(".event-time").allInnerTexts()) {
      assert.match(time, /^\+\d+(\.\d+)? (ms|s)$/);
    }
    await shot(page, "server-stream");
  },

  /** Cancel a server stream that would go on forever: the server's handler is cancelled. */
  async cancel(page) {
    await open(page, "sensors.watch");
    await typeMessage(page, '{"sensor": "attic", "interval_ms": 40}');
    await editor(page).press("Control+Enter");
    await statusIs(page, "Streaming");
    await waitCount(page, ".rpc-view .event-received", 3);
    await page.getByRole("button", { name: /^Cancel/ }).click();
    await statusIs(page, "CANCELLED");
    const count = await events(page, "received").count();
    assert.match(await textOf(page.locator(".rpc-view .stats")), new RegExp(`^${count} received · `));
    assert.equal(await page.getByRole("button", { name: /^Cancel/ }).isDisabled(), true);
    assert.equal(await page.getByRole("button", { name: /^Call/ }).isEnabled(), true);
    await ask("check that sensors.watch was cancelled");
    await shot(page, "cancel");
  },

  /** Client stream: open with a first message, send two more, end, get one response. */
  async client_stream(page) {
    await open(page, "sensors.summarize");
    await typeMessage(page, "1.5");
    await page.getByRole("button", { name: /^Open stream/ }).click();
    await page.getByRole("button", { name: /^Send/ }).waitFor();
    await typeMessage(page, "2.5");
    await page.getByRole("button", { name: /^Send/ }).click();
    await typeMessage(page, "5");
    await editor(page).press("Control+Enter");
    await waitCount(page, ".rpc-view .event-sent", 3);
    await page.getByRole("button", { name: /^End stream/ }).click();
    await statusIs(page, "OK");
    assert.deepEqual(
      (await events(page, "sent").allInnerTexts()).map((t) => t.replace(/\s+/g, " ").replace(/^\+\S+ m?s → /, "")),
      ["sent: message #1 1.5", "sent: message #2 2.5", "sent: message #3 5"],
    );
    assert.match(await textOf(events(page, "end")), /end of stream/);
    assert.match(await textOf(events(page, "received")), /response \{"count": 3, "mean": 3, "low": 1.5, "high": 5\}/);
    assert.match(await textOf(page.locator(".rpc-view .stats")), /^3 sent · /);
    await shot(page, "client-stream");
    // Run again from the history: the same three messages, the stream ended, the same response.
    await page.getByRole("tab", { name: /History/ }).click();
    await page.getByRole("button", { name: /^Run sensors\.summarize at .* again$/ }).click();
    await waitCount(page, ".history-item", 2);
    await statusIs(page, "OK");
    assert.equal(await events(page, "sent").count(), 3);
    assert.match(await textOf(events(page, "received")), /"count": 3, "mean": 3,/);
    assert.equal(await editor(page).inputValue(), "1.5", "the first message is back in the editor");
    // An invalid message of the stream: the server names it by its index, the page by its number.
    await page.getByRole("button", { name: /^Open stream/ }).click();
    await page.getByRole("button", { name: /^Send/ }).waitFor();
    await typeMessage(page, '"warm"');
    await editor(page).press("Control+Enter");
    await page.getByRole("button", { name: "Send anyway" }).click();
    await statusIs(page, "INVALID_ARGUMENT");
    const problem = page.locator(".rpc-view .problem.server");
    await problem.waitFor();
    assert.equal(await textOf(problem), "$ Message #2: Expected `float`, got `str` SERVER");
    assert.match(await textOf(events(page, "error")), /invalid request message at index 1 of the stream: .* "index": 1\} \]$/);
  },

  /** Bidi: each message answered as it goes, then the end of both streams. */
  async bidi(page) {
    await open(page, "chat.room");
    await typeMessage(page, '{"author": "ada", "text": "hello"}');
    await editor(page).press("Control+Enter");
    await events(page, "received").first().waitFor();
    assert.match(await textOf(events(page, "received").first()), /message #1 \{"author": "echo-bot", "text": "ada said: hello"\}/);
    await typeMessage(page, '{"author": "grace", "text": "hi"}');
    await editor(page).press("Control+Enter");
    await waitCount(page, ".rpc-view .event-received", 2);
    assert.match(await textOf(events(page, "received").nth(1)), /message #2 .*"grace said: hi"/);
    await editor(page).press("Control+Shift+Enter");
    await statusIs(page, "OK");
    const order = await page.locator(".rpc-view .timeline .event").evaluateAll((rows) => rows.map((row) => row.className.replace("event event-", "")));
    assert.deepEqual(order, ["sent", "received", "sent", "received", "end", "done"]);
    assert.match(await textOf(page.locator(".rpc-view .stats")), /^2 sent · 2 received · /);
    await shot(page, "bidi");
  },

  /** Problems found before sending are shown at their fields; the server's too. */
  async validation(page) {
    await open(page, "notes.create");
    await typeMessage(page, '{\n  "title": "",\n  "tags": ["ok", ""],\n  "priority": "soon"\n}');
    await editor(page).press("Control+Enter");
    const problems = page.locator(".rpc-view .problem");
    await problems.first().waitFor();
    assert.deepEqual(await problems.allInnerTexts(), [
      "$.title\nExpected `str` of length >= 1",
      "$.tags[1]\nExpected `str` of length >= 1",
      "$.priority\nInvalid enum value 'soon'",
    ]);
    // Each message sits at the end of its field's line, and the field is underlined.
    const lines = await page.locator(".rpc-view .editor-view").first().innerText();
    assert.match(lines.split("\n")[1], /"title": "",\s*◂? ?Expected `str` of length >= 1$/);
    assert.match(lines.split("\n")[3], /"priority": "soon"\s*◂? ?Invalid enum value 'soon'$/);
    assert.deepEqual(await page.locator(".rpc-view .editor-view .mark").first().innerText(), '"title"');
    assert.deepEqual(await page.locator(".rpc-view .gutter-line.has-problem").allInnerTexts(), ["2", "3", "4"]);
    assert.equal(await events(page, "sent").count(), 0, "nothing was sent");
    await shot(page, "validation-client");

    // Fixing the text clears the problems as one types.
    await typeMessage(page, '{\n  "title": "Tea",\n  "tags": ["green", "green"]\n}');
    await page.locator(".rpc-view .problem").first().waitFor({ state: "detached" });
    // Distinct tags are checked by a validator on the server: its problem comes back by path.
    await editor(page).press("Control+Enter");
    await statusIs(page, "INVALID_ARGUMENT");
    const server = page.locator(".rpc-view .problem.server");
    await server.waitFor();
    assert.equal(await textOf(server), "$.tags tags must be distinct SERVER");
    const view = await page.locator(".rpc-view .editor-view").first().innerText();
    assert.match(view.split("\n")[2], /"tags": \["green", "green"\]\s*◂? ?tags must be distinct$/);
    assert.match(await textOf(events(page, "error")), /INVALID_ARGUMENT invalid request message: tags must be distinct at \$\.tags data \[\{"path": "\$\.tags", "message": "tags must be distinct"\}\]/);
    await shot(page, "validation-server");

    // "Send anyway" lets the server judge what the page refused.
    await typeMessage(page, '{"title": ""}');
    await editor(page).press("Control+Enter");
    await page.getByRole("button", { name: "Send anyway" }).click();
    await page.locator(".rpc-view .problem.server").waitFor();
    assert.equal(await textOf(page.locator(".rpc-view .problem.server")), "$.title Expected `str` of length >= 1 SERVER");
  },

  /** Metadata goes out with the call; leading and trailing metadata come back and are shown. */
  async metadata(page) {
    await open(page, "whoami");
    await metadata(page).fill('{"user": "ada", "attempt": 2}');
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
    assert.match(await textOf(events(page, "received")), /"metadata": \{"user": "ada", "attempt": 2\}/);
    assert.match(await textOf(events(page, "leading")), /leading metadata \{"server-time": "\d{4}-/);
    assert.match(await textOf(events(page, "trailing")), /trailing metadata \{"elapsed-us": 42\}/);
    const order = await page.locator(".rpc-view .timeline .event").evaluateAll((rows) => rows.map((row) => row.className.replace("event event-", "")));
    assert.deepEqual(order, ["sent", "leading", "received", "trailing", "done"]);
    // Metadata is kept for the other rpcs and over a reload, in the session.
    await page.reload();
    await page.locator(".rpc-title", { hasText: "whoami" }).waitFor();
    assert.equal(await metadata(page).inputValue(), '{"user": "ada", "attempt": 2}');
    await metadata(page).fill('{"swill-x": 1}');
    await editor(page).press("Control+Enter");
    await page.locator(".rpc-view .problem", { hasText: "Keys beginning with swill- are reserved" }).waitFor();
    await shot(page, "metadata");
  },

  /** Errors with code, message and data; a deadline; bytes in and out. */
  async errors(page) {
    await open(page, "notes.get");
    // The rpc's declared errors are listed with their code, doc and the type of their detail.
    const declared = page.locator(".rpc-view .declared-errors");
    await declared.locator("summary").click();
    assert.equal(await textOf(declared.locator("summary")), "Declared errors (1)");
    assert.match(await textOf(declared.locator(".declared-error")), /^NoSuchNote NOT_FOUND There is no note with that id\. .*id/);
    await typeMessage(page, "99");
    await editor(page).press("Control+Enter");
    await statusIs(page, "NOT_FOUND");
    // A declared error that arrives is shown by its name, with its detail.
    assert.match(await textOf(events(page, "error")), /^\S+ ms ✕ error: NoSuchNote \(NOT_FOUND\) no note 99 detail \{"id": 99\}$/);
    await shot(page, "declared-error");

    await open(page, "sensors.watch");
    await typeMessage(page, '{"interval_ms": 40}');
    await page.getByLabel("Timeout").fill("300");
    await editor(page).press("Control+Enter");
    await statusIs(page, "DEADLINE_EXCEEDED");
    assert.ok((await events(page, "received").count()) >= 1, "messages came until the deadline");

    await open(page, "files.checksum");
    await typeMessage(page, '"aGVsbG8="');
    await page.getByLabel("Timeout").fill("");
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
    const received = await textOf(events(page, "received"));
    assert.match(received, /"size": 5/);
    assert.match(received, /"head": 5 bytes 68 65 6c 6c 6f "hello"/);
    assert.match(await textOf(events(page, "sent")), /request 5 bytes 68 65 6c 6c 6f "hello"/);
    await shot(page, "errors");
  },

  /** The list: grouped by prefix, filtered with the keyboard; themes; accessible names. */
  async navigation(page) {
    await open(page, "add");
    const groups = await page.locator(".rpc-group-title").allInnerTexts();
    assert.deepEqual(groups.map((g) => g.toLowerCase()), ["root", "chat", "files", "notes", "sensors", "swill · built-in"]);
    await page.locator("body").click({ position: { x: 900, y: 20 } });
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "filter");
    await page.keyboard.type("summ");
    assert.deepEqual(await page.locator(".rpc-option").evaluateAll((rows) => rows.map((row) => row.dataset.rpc)), ["sensors.summarize"]);
    await page.keyboard.press("ArrowDown");
    await page.locator(".rpc-title", { hasText: "sensors.summarize" }).waitFor();
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Message");
    assert.equal(new URL(page.url()).hash, "#sensors.summarize");
    await page.locator("#filter").fill("");
    await page.locator("#rpc-list").focus();
    await page.keyboard.press("Home");
    await page.locator(".rpc-title", { hasText: /^add$/ }).waitFor();
    await page.keyboard.press("ArrowDown");
    await page.locator(".rpc-title", { hasText: "whoami" }).waitFor();
    assert.equal(await page.locator("#rpc-list").getAttribute("aria-activedescendant"), "rpc-whoami");

    // Every control has a name a screen reader can say.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll("button, input, textarea, select, [role=option], [role=tab], [role=listbox]")]
        .filter((el) => !el.closest("[hidden]"))
        .filter((el) => {
          const labelled = el.labels?.length > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
          return !labelled && !el.textContent.trim();
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unnamed, []);

    const theme = page.getByRole("button", { name: /^Switch to (dark|light) theme$/ });
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await theme.click();
    const after = await page.evaluate(() => document.documentElement.dataset.theme);
    assert.notEqual(after, before);
    await page.reload();
    await page.locator(".rpc-title").waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), after, "the theme is remembered");
    await shot(page, `navigation-${after}`);
  },

  /** The page under a mount prefix: its assets and its WebSocket under the prefix too. */
  async mounted(page) {
    const sockets = [];
    page.on("websocket", (socket) => sockets.push(new URL(socket.url()).pathname));
    await open(page, "add", "/api/swill");
    await typeMessage(page, "[20, 22]");
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
    assert.match(await textOf(events(page, "received")), /response 42$/);
    assert.deepEqual(sockets, ["/api/ws"]);
    await shot(page, "mounted");
  },

  /** A stream longer than the screen keeps: the newest 500 rows stay, the count is exact. */
  async long_stream(page) {
    await open(page, "flood");
    await typeMessage(page, "3000");
    const started = Date.now();
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK", 60_000);
    const took = Date.now() - started;
    assert.match(await textOf(page.locator(".rpc-view .stats")), /^3000 received · /);
    assert.equal(await events(page, "received").count(), 500);
    assert.match(await textOf(events(page, "received").first()), /message #2501 \{"i": 2500, /);
    assert.match(await textOf(events(page, "received").last()), /message #3000 \{"i": 2999, /);
    assert.equal(await textOf(page.locator(".rpc-view .event-dropped")), "2501 earlier messages not shown");
    assert.match(await textOf(events(page, "done")), /end of stream · 3000 messages/);
    // The newest message is in view: the timeline follows the stream.
    assert.equal(await events(page, "done").isVisible(), true);
    const box = await events(page, "done").boundingBox();
    const pane = await page.locator(".rpc-view .timeline").boundingBox();
    assert.ok(box.y + box.height <= pane.y + pane.height + 1, "the end of the stream is scrolled into view");
    console.log(`3000 messages in ${took} ms`);
    await shot(page, "long-stream");
  },

  /** Without swill.introspect the page says why it has nothing to show. */
  async no_introspection(page) {
    await page.goto(`${BASE}${PAGE}`);
    await page.locator(".placeholder-title", { hasText: "Can't load the server's RPCs" }).waitFor();
    assert.match(await textOf(page.locator(".placeholder-text")), /does not serve swill\.introspect \(Swill\(introspection=False\)\)/);
    await page.locator("#connection[data-state='open']").waitFor();
  },

  /** A refused connection is said so; the page's query string authenticates it. */
  async token(page) {
    const sockets = [];
    page.on("websocket", (socket) => sockets.push(new URL(socket.url())));
    await page.goto(`${BASE}${PAGE}#add`);
    await page.locator(".placeholder-title", { hasText: "Can't load the server's RPCs" }).waitFor();
    assert.match(await textOf(page.locator(".placeholder-text")), /^UNAUTHENTICATED: log in first$/);
    await page.locator("#connection[data-state='closed']").waitFor();
    assert.match(await textOf(page.locator("#connection-text")), /^Disconnected: log in first$/);
    await shot(page, "token-refused");
    // Reconnect dials again at once (a refusal is not retried by itself): refused again.
    await page.getByRole("button", { name: "Reconnect" }).click();
    await page.waitForFunction(() => document.querySelector("#connection-text")?.textContent === "Disconnected: log in first");
    assert.equal(sockets.length, 2);
    await page.goto(`${BASE}${PAGE}?token=s3cret#add`);
    await page.locator(".rpc-title", { hasText: /^add$/ }).waitFor();
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
    assert.deepEqual(sockets.map((url) => url.search), ["", "", "?token=s3cret"]);
  },

  /** The connection: lost when the server stops, back when it is up again; calls work again. */
  async reconnect(page) {
    await open(page, "add");
    await ask("stop the server");
    await page.locator("#connection[data-state='reconnecting'], #connection[data-state='closed']").waitFor();
    assert.match(await textOf(page.locator("#connection-text")), /^(Reconnecting in .*|Disconnected.*|Server going away.*)$/);
    assert.equal(await page.getByRole("button", { name: "Reconnect" }).isVisible(), true);
    await shot(page, "reconnect-lost");
    await ask("start the server again");
    await page.locator("#connection[data-state='open']").waitFor({ timeout: 30_000 });
    await editor(page).press("Control+Enter");
    await statusIs(page, "OK");
  },

  /** A resumable stream: shown live, and it resumes by itself on the restarted server. */
  async live(page) {
    await open(page, "ticks");
    assert.equal(await page.locator(".rpc-view .chip-live").isVisible(), true);
    for (let i = 0; i < 3; i++) {
      await ask("publish");
    }
    await typeMessage(page, "0"); // the values after id 0: the three kept in the topic's history
    await editor(page).press("Control+Enter");
    await statusIs(page, "Live");
    await waitCount(page, ".rpc-view .timeline .event-received", 3);
    assert.match(await textOf(events(page, "received").nth(2)), /event #3/);
    await ask("restart the server");
    // The page re-opens the stream by itself, on whatever connection it gets next: publish until
    // an event arrives from the new server (each wait bounded).
    for (let i = 0; i < 80 && (await events(page, "received").count()) < 4; i++) {
      await ask("publish");
      const fourth = ([s, n]) => document.querySelectorAll(s).length >= n;
      await page.waitForFunction(fourth, [".rpc-view .timeline .event-received", 4], { timeout: 500 }).catch(() => undefined);
    }
    assert.equal(await events(page, "received").count() >= 4, true, "no event after the restart");
    assert.match(await textOf(events(page, "received").nth(3)), /event #\d+/);
    await statusIs(page, "Live");
    await shot(page, "live-resumed");
    await page.getByRole("button", { name: "Cancel" }).click();
    await statusIs(page, "CANCELLED");
  },
};

// Screenshots for docs/playground.md: a few views of the demo app, in both themes.
scenarios.docs = async (page) => {
  await open(page, "notes.create");
  await typeMessage(page, '{\n  "title": "Write the release notes",\n  "tags": ["docs", "release"],\n  "priority": "high",\n  "due": "2025-06-01T17:00:00Z"\n}');
  await editor(page).press("Control+Enter");
  await statusIs(page, "OK");
  await shot(page, "playground-unary");
  await open(page, "sensors.watch");
  await typeMessage(page, '{"sensor": "boiler", "interval_ms": 120, "count": 6}');
  await editor(page).press("Control+Enter");
  await statusIs(page, "OK");
  await shot(page, "playground-stream");
  await open(page, "notes.create");
  await typeMessage(page, '{\n  "title": "",\n  "tags": ["docs", ""],\n  "priority": "soon"\n}');
  await editor(page).press("Control+Enter");
  await page.locator(".rpc-view .problem").first().waitFor();
  await page.getByRole("button", { name: /^Switch to dark theme$/ }).click();
  await shot(page, "playground-validation-dark");
  await open(page, "chat.room");
  await typeMessage(page, '{"author": "ada", "text": "hello"}');
  await editor(page).press("Control+Enter");
  await events(page, "received").first().waitFor();
  await typeMessage(page, '{"author": "ada", "text": "anyone there?"}');
  await editor(page).press("Control+Enter");
  await waitCount(page, ".rpc-view .event-received", 2);
  await shot(page, "playground-bidi-dark");
};

async function main() {
  const scenario = scenarios[process.argv[2]];
  assert.ok(scenario, `no scenario ${process.argv[2]}; there are: ${Object.keys(scenarios).join(", ")}`);
  assert.ok(BASE, "set SWILL_URL");
  mkdirSync(ARTIFACTS, { recursive: true });
  rmSync(path.join(ARTIFACTS, `${process.argv[2]}-failed.png`), { force: true }); // from an earlier run
  const profile = mkdtempSync(path.join(tmpdir(), "swill-chromium-"));
  const context = await launch(profile, { viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  const origin = new URL(BASE).origin;
  const foreign = [];
  const errors = [];
  context.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("data:") && new URL(url).origin !== origin) {
      foreign.push(url);
    }
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    // A lost connection is logged by the browser itself; the reconnect scenario expects that.
    if (message.type() === "error" && !/WebSocket connection/.test(message.text())) {
      errors.push(message.text());
    }
  });
  try {
    await scenario(page);
    assert.deepEqual(foreign, [], "the page fetched from elsewhere than the server");
    assert.deepEqual(errors, [], "script errors in the page");
  } catch (error) {
    await shot(page, `${process.argv[2]}-failed`, { fullPage: true }).catch(() => undefined);
    throw error;
  } finally {
    await context.close();
    hangUp();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
