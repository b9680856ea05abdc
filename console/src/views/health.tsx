import { useEffect, useRef, useState } from "preact/hooks";
import { formatDate } from "../components";
import { buckets, parsePrometheus, quantileBetween, type Sample, sumBy } from "../prometheus";

const POLL_MS = 3_000;
const HISTORY = 60;

interface Scrape {
  readonly at: number;
  readonly samples: Sample[];
}

interface Point {
  readonly at: number;
  readonly requestsPerSecond: number;
  readonly errorsPerSecond: number;
  readonly throttlesPerSecond: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly byOperation: Map<string, { rate: number; meanMs: number | null; p95Ms: number | null; errors: number }>;
}

interface Ready {
  readonly status: string;
  readonly checks: Record<string, string>;
}

const isAws = (s: Sample) => s.labels.edge !== undefined;

function pointBetween(before: Scrape, after: Scrape): Point {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const delta = (name: string, label?: string, where?: (s: Sample) => boolean) => {
    const a = sumBy(after.samples, name, label, where);
    const b = sumBy(before.samples, name, label, where);
    return new Map([...a].map(([k, v]) => [k, Math.max(0, v - (b.get(k) ?? 0))]));
  };
  const total = delta("trent_requests_total", undefined, isAws).get("") ?? 0;
  const errors = delta("trent_requests_total", undefined, (s) => s.labels.outcome !== "success").get("") ?? 0;
  const throttles = delta("trent_requests_throttled_total").get("") ?? 0;
  const requests = delta("trent_requests_total", "operation");
  const failed = delta("trent_requests_total", "operation", (s) => s.labels.outcome !== "success");
  const sums = delta("trent_request_duration_seconds_sum", "operation");
  const counts = delta("trent_request_duration_seconds_count", "operation");
  const byOperation = new Map<string, { rate: number; meanMs: number | null; p95Ms: number | null; errors: number }>();
  for (const [operation, count] of requests) {
    const n = counts.get(operation) ?? 0;
    const forOp = (s: Sample) => s.labels.operation === operation;
    const p95 = quantileBetween(
      buckets(before.samples, "trent_request_duration_seconds", forOp),
      buckets(after.samples, "trent_request_duration_seconds", forOp),
      0.95,
    );
    byOperation.set(operation, {
      rate: count / seconds,
      meanMs: n > 0 ? ((sums.get(operation) ?? 0) / n) * 1000 : null,
      p95Ms: p95 === null ? null : p95 * 1000,
      errors: failed.get(operation) ?? 0,
    });
  }
  const all = (q: number) =>
    quantileBetween(
      buckets(before.samples, "trent_request_duration_seconds"),
      buckets(after.samples, "trent_request_duration_seconds"),
      q,
    );
  const p50 = all(0.5);
  const p99 = all(0.99);
  return {
    at: after.at,
    requestsPerSecond: total / seconds,
    errorsPerSecond: errors / seconds,
    throttlesPerSecond: throttles / seconds,
    p50: p50 === null ? null : p50 * 1000,
    p99: p99 === null ? null : p99 * 1000,
    byOperation,
  };
}

/** A small line chart in SVG: each series over the last few minutes, with its axis maximum. */
function LineChart({
  title,
  unit,
  points,
  series,
}: {
  title: string;
  unit: string;
  points: readonly Point[];
  series: readonly { label: string; value: (p: Point) => number | null; className: string }[];
}) {
  const width = 360;
  const height = 120;
  const values = points.flatMap((p) => series.map((s) => s.value(p) ?? 0));
  const max = Math.max(1e-9, ...values) * 1.1;
  const x = (i: number) =>
    points.length <= 1 ? width : (i / (HISTORY - 1)) * width + (width - ((points.length - 1) / (HISTORY - 1)) * width);
  const y = (v: number) => height - (v / max) * height;
  const latest = points.at(-1);
  const summary = series.map((s) => `${s.label} ${latest ? format(s.value(latest)) : "—"} ${unit}`).join(", ");
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong>{" "}
        <span class="small">
          ({unit}; top of scale {format(max)})
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: ${summary}`} preserveAspectRatio="none">
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
        <line x1="0" y1={height / 2} x2={width} y2={height / 2} class="grid-line" />
        {series.map((s) => (
          <polyline
            key={s.label}
            class={`series ${s.className}`}
            fill="none"
            points={points.map((p, i) => `${x(i).toFixed(1)},${y(s.value(p) ?? 0).toFixed(1)}`).join(" ")}
          />
        ))}
      </svg>
      <ul class="legend">
        {series.map((s) => (
          <li key={s.label}>
            <span class={`swatch ${s.className}`} aria-hidden="true" /> {s.label}:{" "}
            {latest ? format(s.value(latest)) : "—"} {unit}
          </li>
        ))}
      </ul>
    </figure>
  );
}

function format(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "—";
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function HealthPage() {
  const [points, setPoints] = useState<Point[]>([]);
  const [latest, setLatest] = useState<Scrape | null>(null);
  const [ready, setReady] = useState<Ready | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const previous = useRef<Scrape | null>(null);
  useEffect(() => {
    if (paused) return;
    let stopped = false;
    const poll = async () => {
      try {
        const [metrics, readiness] = await Promise.all([
          fetch("/metrics", { cache: "no-store" }),
          fetch("/ready", { cache: "no-store" }),
        ]);
        const scrape = { at: Date.now(), samples: parsePrometheus(await metrics.text()) };
        const readyBody = (await readiness.json()) as Ready;
        if (stopped) return;
        setReady(readyBody);
        setLatest(scrape);
        setFailure(null);
        if (previous.current !== null) {
          const point = pointBetween(previous.current, scrape);
          setPoints((old) => [...old, point].slice(-HISTORY));
        }
        previous.current = scrape;
      } catch (error) {
        if (!stopped) setFailure(`Trent did not answer: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    void poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [paused]);
  const last = points.at(-1);
  const pool = latest ? [...sumBy(latest.samples, "trent_key_pair_pool_available", "spec")].sort() : [];
  const storeFailures = latest ? (sumBy(latest.samples, "trent_store_call_failures_total").get("") ?? 0) : 0;
  const connections = latest ? (sumBy(latest.samples, "trent_http_connections_open").get("") ?? 0) : 0;
  const operations = last
    ? [...last.byOperation].filter(([, stats]) => stats.rate > 0).sort((a, b) => b[1].rate - a[1].rate)
    : [];
  return (
    <>
      <div class="title-row">
        <h1>Health and load</h1>
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? "Resume updates" : "Pause updates"}
        </button>
      </div>
      <p class="small">
        From <code>/metrics</code> and <code>/ready</code> every {POLL_MS / 1000} s
        {latest ? `; last update ${formatDate(latest.at)}` : ""}. Rates are over the last interval, for every worker of
        this node.
      </p>
      {failure && (
        <div class="error" role="alert">
          {failure}
        </div>
      )}
      <section class="panel status-row" aria-label="Status">
        <div>
          <h2>Readiness</h2>
          <p class={ready?.status === "ready" ? "valid" : "invalid"}>{ready ? ready.status : "…"}</p>
          <ul>
            {Object.entries(ready?.checks ?? {}).map(([name, outcome]) => (
              <li key={name}>
                {name === "store" ? "Database" : name === "rootOfTrust" ? "Root of trust" : name}:{" "}
                <strong>{outcome}</strong>
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h2>Database</h2>
          <p>
            {ready?.checks.store === "ok" ? "Reachable" : ready ? `Check ${ready.checks.store ?? "unknown"}` : "…"};{" "}
            {storeFailures} failed store calls since start
          </p>
          <p>{connections} HTTP connections open</p>
        </div>
        <div>
          <h2>Key-pair pool</h2>
          {pool.length === 0 ? (
            <p>No pool (depth 0).</p>
          ) : (
            <table class="grid compact">
              <thead>
                <tr>
                  <th scope="col">Spec</th>
                  <th scope="col">Ready</th>
                </tr>
              </thead>
              <tbody>
                {pool.map(([spec, depth]) => (
                  <tr key={spec}>
                    <td>{spec}</td>
                    <td>{depth}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </section>
      <div class="charts">
        <LineChart
          title="Requests"
          unit="per second"
          points={points}
          series={[{ label: "All", value: (p) => p.requestsPerSecond, className: "s1" }]}
        />
        <LineChart
          title="Errors and throttles"
          unit="per second"
          points={points}
          series={[
            { label: "Errors", value: (p) => p.errorsPerSecond, className: "s2" },
            { label: "Throttled", value: (p) => p.throttlesPerSecond, className: "s3" },
          ]}
        />
        <LineChart
          title="Latency"
          unit="ms"
          points={points}
          series={[
            { label: "p50", value: (p) => p.p50, className: "s1" },
            { label: "p99", value: (p) => p.p99, className: "s2" },
          ]}
        />
      </div>
      <section class="panel" aria-labelledby="by-op">
        <h2 id="by-op">By operation (last interval)</h2>
        <table class="grid compact">
          <thead>
            <tr>
              <th scope="col">Operation</th>
              <th scope="col">Requests/s</th>
              <th scope="col">Mean latency (ms)</th>
              <th scope="col">p95 latency (ms)</th>
              <th scope="col">Errors</th>
            </tr>
          </thead>
          <tbody>
            {operations.map(([operation, stats]) => (
              <tr key={operation}>
                <td>{operation || "(none)"}</td>
                <td>{format(stats.rate)}</td>
                <td>{format(stats.meanMs)}</td>
                <td>{format(stats.p95Ms)}</td>
                <td>{stats.errors}</td>
              </tr>
            ))}
            {operations.length === 0 && (
              <tr>
                <td colSpan={5}>{last ? "No requests in the last interval." : "Waiting for two samples…"}</td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
    </>
  );
}
