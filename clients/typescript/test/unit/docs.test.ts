// The snippets of docs/tanstack-query.md and docs/testing-frontend.md, run: the pages include the
// sections between the `--8<--` markers.
import { MutationObserver, QueryClient, QueryObserver } from "@tanstack/query-core";
import { afterEach, expect, it } from "vitest";

import { Code, SwillError } from "../../src/errors.js";
import { connectionStatus, createSwillQuery, fieldErrors } from "../../src/query.js";
import { bidi, clientStream, createTestServer, serverStream, unary } from "../../src/testing.js";

// --8<-- [start:rpcs]
// What `swill codegen typescript` writes into api.ts, next to the `Api` class.
type Rpcs = {
  "users.get": { kind: "unary"; request: { id: number }; response: { id: number; name: string } };
  "users.create": { kind: "unary"; request: { name: string; email: string }; response: number };
  logs: { kind: "server_stream"; request: string; response: string };
  upload: { kind: "client_stream"; request: Uint8Array; response: number };
  "chat.echo": { kind: "bidi"; request: string; response: string };
};
// --8<-- [end:rpcs]

// --8<-- [start:server]
const server = createTestServer<Rpcs>({
  "users.get": unary(({ id }) => ({ id, name: `user ${id}` })),
  "users.create": unary(({ name, email }, context) => {
    if (!email.includes("@")) {
      throw new SwillError(Code.INVALID_ARGUMENT, "invalid", {
        data: [{ path: "$.email", message: "not an email address" }],
      });
    }
    context.trailing["created-by"] = String(context.metadata["user"] ?? "anonymous");
    return name.length;
  }),
  logs: serverStream(async function* (level) {
    yield `${level}: starting`;
    yield `${level}: done`;
  }),
  upload: clientStream(async (chunks) => {
    let size = 0;
    for await (const chunk of chunks) size += chunk.byteLength;
    return size;
  }),
  "chat.echo": bidi(async function* (lines) {
    for await (const line of lines) yield line.toUpperCase();
  }),
});
const client = server.client(); // a real Client, over an in-memory WebSocket
// --8<-- [end:server]

const queryClient = new QueryClient();
afterEach(() => {
  queryClient.clear();
});

it("runs the snippets", async () => {
  // --8<-- [start:setup]
  const swill = createSwillQuery<Rpcs>(client);

  // A unary rpc as a query: key ["swill", "users", "get", { kind: "query", input: { id: 1 } }].
  const user = await queryClient.fetchQuery(swill.queryOptions("users.get", { id: 1 }));
  // user: { id: number; name: string }
  // --8<-- [end:setup]
  expect(user).toEqual({ id: 1, name: "user 1" });

  // --8<-- [start:mutation]
  const create = new MutationObserver(queryClient, swill.mutationOptions("users.create"));
  try {
    await create.mutate({ name: "Ada", email: "ada" });
  } catch {
    const { error } = create.getCurrentResult(); // SwillError | null
    fieldErrors(error); // { email: "not an email address" }
  }
  // --8<-- [end:mutation]
  expect(fieldErrors(create.getCurrentResult().error)).toEqual({ email: "not an email address" });

  // --8<-- [start:invalidate]
  await queryClient.invalidateQueries({ queryKey: swill.key("users") }); // every users.* query
  await queryClient.invalidateQueries({ queryKey: swill.key("users.get") }); // every input
  await queryClient.invalidateQueries({ queryKey: swill.key("users.get", { id: 1 }) }); // one
  // --8<-- [end:invalidate]

  // --8<-- [start:stream]
  const logs = await queryClient.fetchQuery(swill.streamOptions("logs", "warn"));
  // ["warn: starting", "warn: done"]; with { mode: "replace" }: "warn: done"
  // --8<-- [end:stream]
  expect(logs).toEqual(["warn: starting", "warn: done"]);

  // --8<-- [start:upload]
  const upload = swill.streamingCall("upload");
  const stop = upload.subscribe(() => {
    const { status, sent } = upload.getSnapshot(); // "open", 1, 2, …
    void [status, sent];
  });
  for (let i = 0; i < 4; i++) {
    await upload.send(new Uint8Array(256));
  }
  const size = await upload.end(); // 1024
  stop();
  // --8<-- [end:upload]
  expect(size).toBe(1024);

  // --8<-- [start:status]
  const status = connectionStatus(client);
  const unsubscribe = status.subscribe(() => {
    const now = status.getSnapshot();
    if (now.state === "refused") console.warn(`refused: ${now.error.message}`);
  });
  status.getSnapshot(); // { state: "connected", settings: { … } }
  unsubscribe();
  // --8<-- [end:status]
  expect(status.getSnapshot().state).toBe("connected");

  // An observer, as useQuery holds one.
  const observer = new QueryObserver(queryClient, swill.queryOptions("users.get", { id: 2 }));
  const off = observer.subscribe(() => undefined);
  await expect.poll(() => observer.getCurrentResult().data).toEqual({ id: 2, name: "user 2" });
  off();
});

it("tests with the in-memory server", async () => {
  // --8<-- [start:test]
  const call = client.open<number>("users.create", { name: "Ada", email: "ada@example.com" }, {
    metadata: { user: "ada" },
  });
  expect(await call.result()).toBe(3);
  expect(call.trailingMetadata).toEqual({ "created-by": "ada" });

  // A lost connection: open calls fail with UNAVAILABLE, and the client reconnects.
  const reconnected = new Promise((resolve) => client.on("open", resolve));
  server.disconnect();
  await reconnected;
  // Also: server.goaway() (new calls go to a new connection), server.refuse(4401, "token
  // expired") (new connections are refused with that close code and reason), server.refuse(null).
  // --8<-- [end:test]
  expect(await client.call("users.get", { id: 3 })).toEqual({ id: 3, name: "user 3" });
  client.close();
});
