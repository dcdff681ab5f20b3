import { useMemo, useState, useSyncExternalStore } from "react";

import { swill } from "./swill.js";

const CHUNK = 64 * 1024;

/** A client stream: a file sent in 64 KiB chunks, with progress and cancel. */
export function Upload() {
  const upload = useMemo(() => swill.streamingCall("upload"), []);
  const call = useSyncExternalStore(upload.subscribe, upload.getSnapshot);
  const [total, setTotal] = useState(0);

  const start = async (file: File) => {
    upload.reset();
    setTotal(file.size);
    try {
      for (let offset = 0; offset < file.size; offset += CHUNK) {
        const chunk = new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer());
        await upload.send(chunk); // waits for the server's credit: progress follows the server
      }
      await upload.end();
    } catch {
      // Cancelled or failed: the snapshot's error says which.
    }
  };

  const sent = Math.min(total, call.sent * CHUNK);
  return (
    <section>
      <h2>Upload (a client stream, with progress and cancel)</h2>
      <input
        type="file"
        data-testid="file"
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file !== undefined) void start(file);
        }}
      />
      <p>
        <progress max={Math.max(total, 1)} value={sent} />{" "}
        <button
          type="button"
          data-testid="cancel"
          disabled={call.status !== "open"}
          onClick={() => upload.cancel("cancelled by the user")}
        >
          Cancel
        </button>
      </p>
      <p data-testid="upload" data-status={call.status} data-sent={sent}>
        {call.status === "success" && call.response !== undefined
          ? `stored ${String(call.response.size)} bytes, sha256 ${call.response.sha256}`
          : call.status === "error" && call.error !== null
            ? `${call.error.code}: ${call.error.message}`
            : call.status === "idle"
              ? "choose a file"
              : `${sent} of ${total} bytes`}
      </p>
    </section>
  );
}
