import { useQuery } from "@tanstack/react-query";

import { swill } from "./swill.js";

const WIDTH = 600;
const HEIGHT = 120;
const KEEP = 60;

/** A resumable topic as a live query: the last 60 values as an SVG line, resumed by itself. */
export function LiveChart() {
  const temperature = useQuery(swill.liveOptions("temperature", { keep: KEEP }));
  const data = temperature.data;
  const values = data?.values ?? [];
  const low = Math.min(...values, 14);
  const high = Math.max(...values, 26);
  const points = values
    .map((value, i) => {
      const x = (i / (KEEP - 1)) * WIDTH;
      const y = HEIGHT - ((value - low) / (high - low)) * HEIGHT;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");

  return (
    <section>
      <h2>Temperature (a resumable topic as a live query)</h2>
      <svg width={WIDTH} height={HEIGHT} role="img" aria-label="temperature" style={{ background: "#f7f7fb" }}>
        <polyline points={points} fill="none" stroke="teal" strokeWidth={2} />
      </svg>
      <p
        data-testid="chart"
        data-id={data?.id ?? ""}
        data-points={values.length}
        data-missed={data?.missed ?? 0}
        data-restarts={data?.restarts ?? 0}
      >
        {data === undefined
          ? temperature.error
            ? `${temperature.error.code}: ${temperature.error.message}`
            : "waiting for the first value…"
          : `${data.value.toFixed(2)} °C · event ${data.id} · missed ${data.missed} · restarts ${data.restarts}`}
      </p>
    </section>
  );
}
