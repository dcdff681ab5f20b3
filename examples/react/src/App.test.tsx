// @vitest-environment happy-dom
// Component tests without Python: the page's components against @swill/client/testing's
// in-memory server, through the real client (frames encoded and decoded as on the wire).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type ReactNode, act } from "react";
import { type Root, createRoot } from "react-dom/client";
import { afterEach, expect, it, vi } from "vitest";

import { LiveChart } from "./LiveChart.js";
import { SignupForm } from "./SignupForm.js";

// --8<-- [start:mock]
// The page's `swill` module, with a client of an in-memory server in place of "/ws".
vi.mock("./swill.js", async () => {
  const { Code, SwillError } = await import("@swill/client");
  const { connectionStatus, createSwillQuery } = await import("@swill/client/query");
  const { clientStream, createTestServer, serverStream, unary } = await import("@swill/client/testing");
  type Rpcs = import("./api.js").Rpcs;
  const server = createTestServer<Rpcs>({
    signup: unary(({ name, email }) => {
      if (!email.includes("@")) {
        throw new SwillError(Code.INVALID_ARGUMENT, "invalid", {
          data: [{ path: "$.email", message: "not an email address" }],
        });
      }
      return { id: 1, name };
    }),
    temperature: serverStream(async function* (after, context) {
      for (let id = Number(after ?? 0) + 1; !context.signal.aborted; id++) {
        yield { id, value: 20 + id / 10 };
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }),
    upload: clientStream(async (chunks) => {
      let size = 0;
      for await (const chunk of chunks) size += chunk.byteLength;
      return { size, sha256: "" };
    }),
  });
  const client = server.client();
  return { client, swill: createSwillQuery<Rpcs>(client), status: connectionStatus(client) };
});
// --8<-- [end:mock]

// React's act() warns unless the environment says it is a test.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | undefined;
afterEach(() => {
  act(() => root?.unmount());
  document.body.innerHTML = "";
});

function render(node: ReactNode): HTMLElement {
  const container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  act(() => root?.render(<QueryClientProvider client={new QueryClient()}>{node}</QueryClientProvider>));
  return container;
}

/** Wait for `check` to pass, with React's updates meanwhile inside act(). */
function until(check: () => void): Promise<void> {
  return act(() => vi.waitFor(check));
}

/** Type into a controlled input the way a user does: React sees an `input` event. */
function type(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
  setter?.call(input, value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

function field(container: HTMLElement, name: string): HTMLInputElement {
  return container.querySelector(`input[name=${name}]`) as HTMLInputElement;
}

// --8<-- [start:test]
it("shows a validation error at its field, then signs up", async () => {
  const page = render(<SignupForm />);
  act(() => {
    type(field(page, "name"), "Ada");
    type(field(page, "email"), "ada.example.com");
    type(field(page, "age"), "36");
  });
  act(() => (page.querySelector("button[type=submit]") as HTMLButtonElement).click());
  await until(() => expect(page.querySelector("[data-testid=error-email]")?.textContent).toBe("not an email address"));
  expect(page.querySelector("[data-testid=error-name]")).toBeNull();

  act(() => type(field(page, "email"), "ada@example.com"));
  act(() => (page.querySelector("button[type=submit]") as HTMLButtonElement).click());
  await until(() => expect(page.querySelector("[data-testid=signup-ok]")?.textContent).toContain("Welcome, Ada"));
  expect(page.querySelector("[data-testid=error-email]")).toBeNull();
});
// --8<-- [end:test]

it("draws the live chart from the topic's events", async () => {
  const page = render(<LiveChart />);
  await until(() => {
    const chart = page.querySelector("[data-testid=chart]") as HTMLElement;
    expect(Number(chart.dataset["points"])).toBeGreaterThanOrEqual(5);
  });
  expect(page.querySelector("polyline")?.getAttribute("points")?.split(" ").length).toBeGreaterThanOrEqual(5);
});
