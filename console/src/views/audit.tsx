import { type Event, type LookupAttribute, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { useState } from "preact/hooks";
import { type Clients, type ShownError, shownError, verifyAuditTrail } from "../aws";
import { Dialog, ErrorBox, formatDate, useLoad } from "../components";
import { href } from "../router";

interface Filters {
  keyId: string;
  principal: string;
  operation: string;
  outcome: "" | "success" | "error" | "denied";
  start: string;
  end: string;
}

interface Row {
  readonly event: Event;
  readonly record: Record<string, unknown>;
}

function parseRecord(event: Event): Record<string, unknown> {
  try {
    return JSON.parse(event.CloudTrailEvent ?? "{}") as Record<string, unknown>;
  } catch {
    return {};
  }
}

function errorCodeOf(record: Record<string, unknown>): string | undefined {
  return typeof record.errorCode === "string" ? record.errorCode : undefined;
}

function principalOf(record: Record<string, unknown>): string {
  const identity = record.userIdentity as { arn?: string } | null | undefined;
  return identity?.arn ?? "(unauthenticated)";
}

function matchesLocally(row: Row, filters: Filters): boolean {
  const { event, record } = row;
  if (filters.operation && event.EventName !== filters.operation) return false;
  if (filters.principal) {
    const needle = filters.principal.toLowerCase();
    if (!principalOf(record).toLowerCase().includes(needle) && event.Username?.toLowerCase() !== needle) return false;
  }
  if (filters.keyId && !(event.Resources ?? []).some((r) => r.ResourceName?.includes(filters.keyId))) return false;
  const code = errorCodeOf(record);
  if (filters.outcome === "success" && code !== undefined) return false;
  if (filters.outcome === "error" && code === undefined) return false;
  if (filters.outcome === "denied" && code !== "AccessDeniedException") return false;
  return true;
}

/** The one attribute CloudTrail filters by on the server; the other filters apply here. */
function serverAttribute(filters: Filters): LookupAttribute[] {
  if (filters.keyId) return [{ AttributeKey: "ResourceName", AttributeValue: filters.keyId }];
  if (filters.operation) return [{ AttributeKey: "EventName", AttributeValue: filters.operation }];
  if (filters.principal && !filters.principal.includes(":")) {
    return [{ AttributeKey: "Username", AttributeValue: filters.principal }];
  }
  return [];
}

const PAGE_ROWS = 50;
const MAX_PAGES_PER_LOAD = 20;

function ChainStatus({ clients }: { clients: Clients }) {
  const status = useLoad(() => verifyAuditTrail(clients.session), [clients]);
  return (
    <section class="panel" aria-labelledby="chain-heading">
      <div class="title-row">
        <h2 id="chain-heading">Chain verification</h2>
        <button type="button" onClick={status.reload} disabled={status.loading}>
          {status.loading ? "Verifying…" : "Verify now"}
        </button>
      </div>
      <ErrorBox error={status.error} />
      {status.value && (
        <>
          <p class={status.value.Ok ? "valid" : "invalid"} role="status">
            {status.value.Ok
              ? `Verified: every chain is intact (checked ${formatDate(status.value.CheckedAt * 1000)}).`
              : "The audit trail FAILED verification: see the problem below."}
          </p>
          <table class="grid compact">
            <thead>
              <tr>
                <th scope="col">Chain</th>
                <th scope="col">Files</th>
                <th scope="col">Records</th>
                <th scope="col">Seals</th>
                <th scope="col">Not yet sealed</th>
                <th scope="col">Problem</th>
              </tr>
            </thead>
            <tbody>
              {status.value.Chains.map((chain) => (
                <tr key={chain.Chain}>
                  <td class="mono">{chain.Chain}</td>
                  <td>{chain.Files}</td>
                  <td>{chain.Records}</td>
                  <td>{chain.Seals}</td>
                  <td>{chain.Unsealed}</td>
                  <td>
                    {chain.Problem
                      ? `${chain.Problem.Kind} at ${chain.Problem.File} line ${chain.Problem.Line}: ${chain.Problem.Message}`
                      : "None"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

export function AuditPage({ clients, keyId }: { clients: Clients; keyId: string | undefined }) {
  const [filters, setFilters] = useState<Filters>({
    keyId: keyId ?? "",
    principal: "",
    operation: "",
    outcome: "",
    start: "",
    end: "",
  });
  const [applied, setApplied] = useState<Filters>(filters);
  const [rows, setRows] = useState<Row[]>([]);
  const [token, setToken] = useState<string | undefined>(undefined);
  const [error, setError] = useState<ShownError | null>(null);
  const [loading, setLoading] = useState(false);
  const [shown, setShown] = useState<Row | null>(null);
  const load = async (next: Filters, from: string | undefined, previous: Row[]) => {
    setLoading(true);
    setError(null);
    try {
      const found = [...previous];
      let nextToken = from;
      let pages = 0;
      do {
        const answer = await clients.cloudTrail.send(
          new LookupEventsCommand({
            LookupAttributes: serverAttribute(next),
            MaxResults: 50,
            ...(next.start ? { StartTime: new Date(next.start) } : {}),
            ...(next.end ? { EndTime: new Date(next.end) } : {}),
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
        for (const event of answer.Events ?? []) {
          const row = { event, record: parseRecord(event) };
          if (matchesLocally(row, next)) found.push(row);
        }
        nextToken = answer.NextToken;
        pages++;
      } while (nextToken && found.length - previous.length < PAGE_ROWS && pages < MAX_PAGES_PER_LOAD);
      setRows(found);
      setToken(nextToken);
    } catch (thrown) {
      setError(shownError(thrown));
    } finally {
      setLoading(false);
    }
  };
  const initial = useLoad(() => load(applied, undefined, []), [clients, applied]);
  void initial;
  const set = (name: keyof Filters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setFilters({ ...filters, [name]: e.currentTarget.value });
  return (
    <>
      <h1>Audit trail</h1>
      <ChainStatus clients={clients} />
      <form
        class="filters"
        aria-label="Filter events"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ ...filters });
        }}
      >
        <label>
          Key ID or ARN
          <input value={filters.keyId} onInput={set("keyId")} spellcheck={false} />
        </label>
        <label>
          Principal (user name or ARN)
          <input value={filters.principal} onInput={set("principal")} spellcheck={false} />
        </label>
        <label>
          Operation
          <input value={filters.operation} onInput={set("operation")} placeholder="e.g. Decrypt" spellcheck={false} />
        </label>
        <label>
          Outcome
          <select value={filters.outcome} onChange={set("outcome")}>
            <option value="">Any</option>
            <option value="success">Succeeded</option>
            <option value="error">Failed</option>
            <option value="denied">Access denied</option>
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" value={filters.start} onInput={set("start")} />
        </label>
        <label>
          To
          <input type="datetime-local" value={filters.end} onInput={set("end")} />
        </label>
        <button type="submit" class="primary">
          Apply filters
        </button>
      </form>
      <ErrorBox error={error} />
      <table class="grid">
        <caption aria-live="polite">
          {loading ? "Loading events…" : `${rows.length} events${token ? " (more available)" : ""}, newest first`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Operation</th>
            <th scope="col">Principal</th>
            <th scope="col">Key</th>
            <th scope="col">Outcome</th>
            <th scope="col">Source IP</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const code = errorCodeOf(row.record);
            const key = row.event.Resources?.[0]?.ResourceName;
            const keyIdOf = key?.slice(key.lastIndexOf("/") + 1);
            return (
              <tr key={row.event.EventId} class={code ? "failed" : ""}>
                <td>{formatDate(row.event.EventTime)}</td>
                <td>
                  <button type="button" class="link" onClick={() => setShown(row)}>
                    {row.event.EventName}
                  </button>
                </td>
                <td class="mono small">{principalOf(row.record)}</td>
                <td class="mono small">
                  {keyIdOf ? <a href={href({ page: "key", keyId: keyIdOf })}>{keyIdOf}</a> : "—"}
                </td>
                <td>{code ? <span class="outcome-error">{code}</span> : "Success"}</td>
                <td>{String(row.record.sourceIPAddress ?? "—")}</td>
              </tr>
            );
          })}
          {!loading && rows.length === 0 && (
            <tr>
              <td colSpan={6}>No events match.</td>
            </tr>
          )}
        </tbody>
      </table>
      {token && (
        <button type="button" disabled={loading} onClick={() => load(applied, token, rows)}>
          Load more
        </button>
      )}
      {shown && (
        <Dialog title={`${shown.event.EventName} event`} onClose={() => setShown(null)}>
          <p class="mono small">{shown.event.EventId}</p>
          <pre class="output record">{JSON.stringify(shown.record, null, 2)}</pre>
          <div class="actions">
            <button type="button" onClick={() => setShown(null)} autofocus>
              Close
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
