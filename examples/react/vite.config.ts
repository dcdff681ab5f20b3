import { fileURLToPath } from "node:url";

import { defineConfig } from "vite";

// This repository's build of @swill/client (clients/typescript/dist), so that this example's
// lockfile does not pin the client. In your own project, `npm install @swill/client` instead and
// drop the aliases (and the `paths` in tsconfig.json).
const client = (file: string): string => fileURLToPath(new URL(`../../clients/typescript/dist/${file}`, import.meta.url));

// `npm run dev` serves the page on :5173 and proxies the WebSocket to the Swill app on :8000, so
// the app sees a same-origin handshake. `npm run build` writes dist/, which app.py serves.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@swill\/client$/, replacement: client("index.js") },
      { find: /^@swill\/client\/query$/, replacement: client("query.js") },
      { find: /^@swill\/client\/testing$/, replacement: client("testing.js") },
    ],
    // One copy of each: the client's build resolves its imports from clients/typescript.
    dedupe: ["@tanstack/query-core", "react", "react-dom"],
  },
  server: { proxy: { "/ws": { target: "ws://127.0.0.1:8000", ws: true } } },
  build: {
    rollupOptions: {
      // React Query marks its hooks "use client" for server components; a client bundle drops it.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
