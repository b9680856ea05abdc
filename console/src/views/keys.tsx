import {
  type AliasListEntry,
  DescribeKeyCommand,
  type KeyMetadata,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  type Tag,
} from "@aws-sdk/client-kms";
import { useMemo, useState } from "preact/hooks";
import type { Clients } from "../aws";
import { ErrorBox, formatDate, useLoad } from "../components";
import { href } from "../router";

export interface KeyRow {
  readonly metadata: KeyMetadata;
  readonly aliases: readonly string[];
}

/** Runs `work` over `items`, a few at a time. */
export async function inBatches<T, R>(items: readonly T[], work: (item: T) => Promise<R>, width = 8): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  }
  return results;
}

export async function listAllAliases(clients: Clients): Promise<AliasListEntry[]> {
  const aliases: AliasListEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await clients.kms.send(new ListAliasesCommand({ Limit: 100, ...(marker ? { Marker: marker } : {}) }));
    aliases.push(...(page.Aliases ?? []));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return aliases;
}

async function loadKeys(clients: Clients): Promise<KeyRow[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page = await clients.kms.send(new ListKeysCommand({ Limit: 1000, ...(marker ? { Marker: marker } : {}) }));
    ids.push(...(page.Keys ?? []).map((key) => key.KeyId as string));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  const aliases = await listAllAliases(clients).catch(() => [] as AliasListEntry[]);
  const described = await inBatches(ids, (id) =>
    clients.kms.send(new DescribeKeyCommand({ KeyId: id })).then(
      (answer) => answer.KeyMetadata as KeyMetadata,
      // A key the caller may list but not describe still has a row.
      () => ({ KeyId: id }) as KeyMetadata,
    ),
  );
  return described
    .map((metadata) => ({
      metadata,
      aliases: aliases
        .filter((alias) => alias.TargetKeyId === metadata.KeyId)
        .map((alias) => alias.AliasName as string),
    }))
    .sort((a, b) => (b.metadata.CreationDate?.getTime() ?? 0) - (a.metadata.CreationDate?.getTime() ?? 0));
}

export function keyType(metadata: KeyMetadata): string {
  if (metadata.KeySpec === undefined) return "—";
  return metadata.KeySpec === "SYMMETRIC_DEFAULT"
    ? "Symmetric"
    : metadata.KeySpec.startsWith("HMAC")
      ? "HMAC"
      : "Asymmetric";
}

const unique = (values: readonly (string | undefined)[]) => [...new Set(values.filter((v): v is string => !!v))].sort();

export function KeysPage({ clients }: { clients: Clients }) {
  const keys = useLoad(() => loadKeys(clients), [clients]);
  const [search, setSearch] = useState("");
  const [state, setState] = useState("");
  const [spec, setSpec] = useState("");
  const [usage, setUsage] = useState("");
  const [alias, setAlias] = useState("");
  const [tag, setTag] = useState("");
  const [showAws, setShowAws] = useState(false);
  const tagFilter = tag.trim();
  const tags = useLoad(async () => {
    if (tagFilter === "" || keys.value === null) return new Map<string, Tag[]>();
    const entries = await inBatches(keys.value, async (row) => {
      const answer = await clients.kms
        .send(new ListResourceTagsCommand({ KeyId: row.metadata.KeyId as string }))
        .catch(() => ({ Tags: [] as Tag[] }));
      return [row.metadata.KeyId as string, answer.Tags ?? []] as const;
    });
    return new Map(entries);
  }, [keys.value, tagFilter === ""]);
  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const [tagKey, tagValue] = tagFilter.includes("=") ? tagFilter.split("=", 2) : [tagFilter, undefined];
    return (keys.value ?? []).filter(({ metadata, aliases }) => {
      if (!showAws && metadata.KeyManager === "AWS") return false;
      if (state && metadata.KeyState !== state) return false;
      if (spec && metadata.KeySpec !== spec) return false;
      if (usage && metadata.KeyUsage !== usage) return false;
      if (alias && !aliases.some((name) => name.toLowerCase().includes(alias.toLowerCase()))) return false;
      if (tagFilter) {
        const keyTags = tags.value?.get(metadata.KeyId as string) ?? [];
        if (!keyTags.some((t) => t.TagKey === tagKey && (tagValue === undefined || t.TagValue === tagValue)))
          return false;
      }
      if (!needle) return true;
      return [metadata.KeyId, metadata.Arn, metadata.Description, ...aliases].some((text) =>
        text?.toLowerCase().includes(needle),
      );
    });
  }, [keys.value, tags.value, search, state, spec, usage, alias, tagFilter, showAws]);
  const all = keys.value ?? [];
  return (
    <>
      <div class="title-row">
        <h1>Keys</h1>
        <div class="actions">
          <button type="button" onClick={keys.reload}>
            Refresh
          </button>
          <a class="button primary" href={href({ page: "create" })}>
            Create key
          </a>
        </div>
      </div>
      <form class="filters" aria-label="Filter keys" onSubmit={(event) => event.preventDefault()}>
        <label>
          Search
          <input
            type="search"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
            placeholder="Alias, key ID, ARN or description"
          />
        </label>
        <label>
          Status
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">Any</option>
            {unique(all.map((r) => r.metadata.KeyState)).map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Key spec
          <select value={spec} onChange={(e) => setSpec(e.currentTarget.value)}>
            <option value="">Any</option>
            {unique(all.map((r) => r.metadata.KeySpec)).map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Key usage
          <select value={usage} onChange={(e) => setUsage(e.currentTarget.value)}>
            <option value="">Any</option>
            {unique(all.map((r) => r.metadata.KeyUsage)).map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Alias
          <input value={alias} onInput={(e) => setAlias(e.currentTarget.value)} placeholder="alias/…" />
        </label>
        <label>
          Tag
          <input value={tag} onInput={(e) => setTag(e.currentTarget.value)} placeholder="key or key=value" />
        </label>
        <label class="check">
          <input type="checkbox" checked={showAws} onChange={(e) => setShowAws(e.currentTarget.checked)} />
          AWS managed keys
        </label>
      </form>
      <ErrorBox error={keys.error ?? tags.error} />
      {keys.loading && keys.value === null ? (
        <p aria-live="polite">Loading keys…</p>
      ) : (
        <table class="grid">
          <caption>
            {rows.length} of {all.length} keys
          </caption>
          <thead>
            <tr>
              <th scope="col">Aliases</th>
              <th scope="col">Key ID</th>
              <th scope="col">Status</th>
              <th scope="col">Key type</th>
              <th scope="col">Key spec</th>
              <th scope="col">Key usage</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ metadata, aliases }) => (
              <tr key={metadata.KeyId}>
                <td>{aliases.length === 0 ? "—" : aliases.join(", ")}</td>
                <td>
                  <a class="mono" href={href({ page: "key", keyId: metadata.KeyId as string })}>
                    {metadata.KeyId}
                  </a>
                </td>
                <td>
                  <span class={`state state-${metadata.KeyState ?? "unknown"}`}>{metadata.KeyState ?? "—"}</span>
                </td>
                <td>{keyType(metadata)}</td>
                <td>{metadata.KeySpec ?? "—"}</td>
                <td>{metadata.KeyUsage ?? "—"}</td>
                <td>{formatDate(metadata.CreationDate)}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={7}>No keys match.</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </>
  );
}
