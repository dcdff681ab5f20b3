import { useSyncExternalStore } from "react";

import { LiveChart } from "./LiveChart.js";
import { SignupForm } from "./SignupForm.js";
import { Upload } from "./Upload.js";
import { status } from "./swill.js";

/** The connection, as a status line: connected, reconnecting, refused with the server's reason. */
function Status() {
  const now = useSyncExternalStore(status.subscribe, status.getSnapshot);
  const text =
    now.state === "connected"
      ? `connected to ${now.settings.server}`
      : now.state === "reconnecting"
        ? `reconnecting (attempt ${now.attempt})`
        : now.state === "refused" || now.state === "offline"
          ? `${now.state}: ${now.error.message}`
          : now.state;
  return (
    <p className="status" data-testid="status" data-state={now.state}>
      {text}
    </p>
  );
}

export function App() {
  return (
    <main>
      <h1>Swill + React + TanStack Query</h1>
      <Status />
      <SignupForm />
      <LiveChart />
      <Upload />
    </main>
  );
}
