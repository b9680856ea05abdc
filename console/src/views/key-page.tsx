import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type GrantOperation,
  type KeyMetadata,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { useEffect, useState } from "preact/hooks";
import { grantOperationsForKey } from "../../../src/policy/grant-operations";
import { type Clients, type ShownError, shownError } from "../aws";
import { ConfirmAction, ErrorBox, formatDate, Notice, useLoad } from "../components";
import { jsonProblem } from "../policy-json";
import { href } from "../router";
import { ImportMaterial, MultiRegion } from "./key-material";
import { listAllAliases } from "./keys";

type Props = { clients: Clients; keyId: string };

/** The grant operations each kind of key allows, as CreateGrant checks them (the server's own table). */
function grantOperationsFor(metadata: KeyMetadata): GrantOperation[] {
  const key = { keySpec: metadata.KeySpec ?? "", keyUsage: metadata.KeyUsage ?? "" };
  return [...grantOperationsForKey(key)] as GrantOperation[];
}

function Section({ title, children }: { title: string; children: preact.ComponentChildren }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return (
    <section aria-labelledby={id} class="panel">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function Field({ name, children }: { name: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children ?? "—"}</dd>
    </>
  );
}

export function KeyPage({ clients, keyId }: Props) {
  const key = useLoad(() => clients.kms.send(new DescribeKeyCommand({ KeyId: keyId })), [clients, keyId]);
  const metadata = key.value?.KeyMetadata;
  if (metadata === undefined) {
    return (
      <>
        <h1>Key {keyId}</h1>
        <p>
          <a href={href({ page: "keys" })}>Back to keys</a>
        </p>
        {key.loading ? <p aria-live="polite">Loading…</p> : <ErrorBox error={key.error} />}
      </>
    );
  }
  return <KeyDetails clients={clients} metadata={metadata} reload={key.reload} />;
}

function KeyDetails({ clients, metadata, reload }: { clients: Clients; metadata: KeyMetadata; reload: () => void }) {
  const keyId = metadata.KeyId as string;
  const state = metadata.KeyState;
  const send = clients.kms.send.bind(clients.kms) as (command: unknown) => Promise<unknown>;
  const [done, setDone] = useState<string | null>(null);
  const after = (message: string) => async (work: Promise<unknown>) => {
    await work;
    setDone(message);
    reload();
  };
  const [waitingDays, setWaitingDays] = useState(30);
  const isAwsManaged = metadata.KeyManager === "AWS";
  const algorithms = [
    ...(metadata.EncryptionAlgorithms ?? []),
    ...(metadata.SigningAlgorithms ?? []),
    ...(metadata.MacAlgorithms ?? []),
    ...(metadata.KeyAgreementAlgorithms ?? []),
  ];
  return (
    <>
      <p class="crumbs">
        <a href={href({ page: "keys" })}>Keys</a> / <span class="mono">{keyId}</span>
      </p>
      <div class="title-row">
        <h1>
          Key <span class="mono">{keyId}</span>
        </h1>
        <span class={`state state-${state}`}>{state}</span>
      </div>
      {done && <Notice>{done}</Notice>}
      <fieldset class="actions key-actions">
        <legend class="visually-hidden">Key actions</legend>
        {state === "Disabled" && (
          <ConfirmAction
            label="Enable"
            title="Enable this key"
            confirmLabel="Enable key"
            disabled={isAwsManaged}
            onConfirm={() => after(`Key ${keyId} is enabled.`)(send(new EnableKeyCommand({ KeyId: keyId })))}
          >
            <p>
              Enable key <span class="mono">{keyId}</span>. Principals that the key policy, IAM policies and grants
              allow can use it in cryptographic operations again.
            </p>
          </ConfirmAction>
        )}
        {state === "Enabled" && (
          <ConfirmAction
            label="Disable"
            title="Disable this key"
            confirmLabel="Disable key"
            danger
            disabled={isAwsManaged}
            onConfirm={() => after(`Key ${keyId} is disabled.`)(send(new DisableKeyCommand({ KeyId: keyId })))}
          >
            <p>
              Disable key <span class="mono">{keyId}</span>. Until it is enabled again, every cryptographic operation
              with it fails with DisabledException: nothing encrypted under it can be decrypted meanwhile.
            </p>
          </ConfirmAction>
        )}
        {state === "PendingDeletion" || state === "PendingReplicaDeletion" ? (
          <ConfirmAction
            label="Cancel key deletion"
            title="Cancel the scheduled deletion"
            confirmLabel="Cancel deletion"
            onConfirm={() =>
              after(`The deletion of key ${keyId} is cancelled; the key is disabled.`)(
                send(new CancelKeyDeletionCommand({ KeyId: keyId })),
              )
            }
          >
            <p>
              Cancel the deletion of key <span class="mono">{keyId}</span> scheduled for{" "}
              {formatDate(metadata.DeletionDate)}. The key stays; it is Disabled until you enable it.
            </p>
          </ConfirmAction>
        ) : (
          <ConfirmAction
            label="Schedule key deletion"
            title="Schedule key deletion"
            confirmLabel="Schedule deletion"
            danger
            disabled={isAwsManaged}
            onConfirm={() =>
              after(`Key ${keyId} will be deleted in ${waitingDays} days.`)(
                send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: waitingDays })),
              )
            }
          >
            <p>
              Schedule deletion of key <span class="mono">{keyId}</span> in {waitingDays} days. Ciphertexts under it
              become undecryptable after that, and nothing can bring the key back. Until then it cannot be used, and the
              deletion can be cancelled.
            </p>
            <label>
              Waiting period (7–30 days)
              <input
                type="number"
                min={7}
                max={30}
                value={waitingDays}
                onInput={(e) => setWaitingDays(Number(e.currentTarget.value))}
                required
              />
            </label>
          </ConfirmAction>
        )}
        {metadata.KeySpec === "SYMMETRIC_DEFAULT" && metadata.Origin !== "EXTERNAL" && (
          <ConfirmAction
            label="Rotate now"
            title="Rotate this key now"
            confirmLabel="Rotate key"
            onConfirm={() =>
              after(`Key ${keyId} has new key material.`)(send(new RotateKeyOnDemandCommand({ KeyId: keyId })))
            }
          >
            <p>
              Give key <span class="mono">{keyId}</span> new key material now. New encryptions use it; ciphertexts made
              earlier still decrypt, with the material they were made under. A key can be rotated on demand 10 times.
            </p>
          </ConfirmAction>
        )}
        <a class="button" href={href({ page: "try", keyId })}>
          Try it
        </a>
        <a class="button" href={href({ page: "audit", keyId })}>
          Audit events
        </a>
      </fieldset>
      <Section title="General configuration">
        <dl class="facts">
          <Field name="ARN">
            <span class="mono">{metadata.Arn}</span>
          </Field>
          <Field name="Description">
            <Description clients={clients} metadata={metadata} reload={reload} />
          </Field>
          <Field name="Created">{formatDate(metadata.CreationDate)}</Field>
          <Field name="Key spec">{metadata.KeySpec}</Field>
          <Field name="Key usage">{metadata.KeyUsage}</Field>
          <Field name="Algorithms">{algorithms.length ? algorithms.join(", ") : null}</Field>
          <Field name="Origin">{metadata.Origin}</Field>
          <Field name="Key manager">{metadata.KeyManager}</Field>
          <Field name="Regionality">
            {metadata.MultiRegion
              ? `Multi-Region (${metadata.MultiRegionConfiguration?.MultiRegionKeyType ?? ""})`
              : "Single Region"}
          </Field>
          {metadata.CustomKeyStoreId && <Field name="Custom key store">{metadata.CustomKeyStoreId}</Field>}
          {metadata.DeletionDate && <Field name="Deletion date">{formatDate(metadata.DeletionDate)}</Field>}
          {metadata.ValidTo && <Field name="Material expires">{formatDate(metadata.ValidTo)}</Field>}
        </dl>
      </Section>
      <Aliases clients={clients} keyId={keyId} />
      <Tags clients={clients} keyId={keyId} />
      {metadata.Origin === "EXTERNAL" && <ImportMaterial clients={clients} metadata={metadata} reload={reload} />}
      {metadata.MultiRegion && <MultiRegion clients={clients} metadata={metadata} reload={reload} />}
      {metadata.KeySpec === "SYMMETRIC_DEFAULT" && <Rotation clients={clients} metadata={metadata} />}
      <KeyPolicy clients={clients} keyId={keyId} />
      <Grants clients={clients} metadata={metadata} />
    </>
  );
}

function Description({ clients, metadata, reload }: { clients: Clients; metadata: KeyMetadata; reload: () => void }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(metadata.Description ?? "");
  const [error, setError] = useState<ShownError | null>(null);
  if (!editing) {
    return (
      <>
        {metadata.Description || "—"}{" "}
        <button type="button" class="link" onClick={() => setEditing(true)}>
          Edit description
        </button>
      </>
    );
  }
  return (
    <form
      class="inline"
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          await clients.kms.send(
            new UpdateKeyDescriptionCommand({ KeyId: metadata.KeyId as string, Description: text }),
          );
          setEditing(false);
          reload();
        } catch (thrown) {
          setError(shownError(thrown));
        }
      }}
    >
      <label>
        Description
        <input value={text} onInput={(e) => setText(e.currentTarget.value)} maxLength={8192} />
      </label>
      <button type="submit">Save</button>
      <button type="button" onClick={() => setEditing(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function Aliases({ clients, keyId }: { clients: Clients; keyId: string }) {
  const aliases = useLoad(
    async () => (await listAllAliases(clients)).filter((alias) => alias.TargetKeyId === keyId),
    [clients, keyId],
  );
  const [name, setName] = useState("alias/");
  const [error, setError] = useState<ShownError | null>(null);
  return (
    <Section title="Aliases">
      <ErrorBox error={aliases.error ?? error} />
      <ul class="chips">
        {(aliases.value ?? []).map((alias) => (
          <li key={alias.AliasName}>
            <span class="mono">{alias.AliasName}</span>
            <ConfirmAction
              label={`Delete ${alias.AliasName}`}
              title="Delete alias"
              confirmLabel="Delete alias"
              danger
              onConfirm={async () => {
                await clients.kms.send(new DeleteAliasCommand({ AliasName: alias.AliasName as string }));
                aliases.reload();
              }}
            >
              <p>
                Delete alias <span class="mono">{alias.AliasName}</span>. The key stays; applications that name it by
                this alias will no longer find it.
              </p>
            </ConfirmAction>
          </li>
        ))}
        {aliases.value?.length === 0 && <li>No aliases.</li>}
      </ul>
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          try {
            await clients.kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
            setName("alias/");
            aliases.reload();
          } catch (thrown) {
            setError(shownError(thrown));
          }
        }}
      >
        <label>
          New alias
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} spellcheck={false} />
        </label>
        <button type="submit">Add alias</button>
      </form>
    </Section>
  );
}

function Tags({ clients, keyId }: { clients: Clients; keyId: string }) {
  const tags = useLoad(() => clients.kms.send(new ListResourceTagsCommand({ KeyId: keyId })), [clients, keyId]);
  const [tagKey, setTagKey] = useState("");
  const [tagValue, setTagValue] = useState("");
  const [error, setError] = useState<ShownError | null>(null);
  const list = tags.value?.Tags ?? [];
  return (
    <Section title="Tags">
      <ErrorBox error={tags.error ?? error} />
      <table class="grid compact">
        <thead>
          <tr>
            <th scope="col">Tag key</th>
            <th scope="col">Tag value</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((tag) => (
            <tr key={tag.TagKey}>
              <td>{tag.TagKey}</td>
              <td>{tag.TagValue}</td>
              <td>
                <button
                  type="button"
                  onClick={async () => {
                    try {
                      await clients.kms.send(
                        new UntagResourceCommand({ KeyId: keyId, TagKeys: [tag.TagKey as string] }),
                      );
                      tags.reload();
                    } catch (thrown) {
                      setError(shownError(thrown));
                    }
                  }}
                >
                  Remove {tag.TagKey}
                </button>
              </td>
            </tr>
          ))}
          {list.length === 0 && (
            <tr>
              <td colSpan={3}>No tags.</td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          try {
            await clients.kms.send(
              new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: tagKey, TagValue: tagValue }] }),
            );
            setTagKey("");
            setTagValue("");
            tags.reload();
          } catch (thrown) {
            setError(shownError(thrown));
          }
        }}
      >
        <label>
          Tag key
          <input value={tagKey} onInput={(e) => setTagKey(e.currentTarget.value)} required />
        </label>
        <label>
          Tag value
          <input value={tagValue} onInput={(e) => setTagValue(e.currentTarget.value)} />
        </label>
        <button type="submit">Add tag</button>
      </form>
    </Section>
  );
}

function Rotation({ clients, metadata }: { clients: Clients; metadata: KeyMetadata }) {
  const keyId = metadata.KeyId as string;
  const status = useLoad(() => clients.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId })), [clients, keyId]);
  const history = useLoad(() => clients.kms.send(new ListKeyRotationsCommand({ KeyId: keyId })), [clients, keyId]);
  const [period, setPeriod] = useState(365);
  const [error, setError] = useState<ShownError | null>(null);
  const enabled = status.value?.KeyRotationEnabled === true;
  const toggle = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await clients.kms.send(
        enabled
          ? new DisableKeyRotationCommand({ KeyId: keyId })
          : new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: period }),
      );
      status.reload();
    } catch (thrown) {
      setError(shownError(thrown));
    }
  };
  return (
    <Section title="Key rotation">
      <ErrorBox error={status.error ?? error} />
      {status.value && (
        <dl class="facts">
          <Field name="Automatic rotation">{enabled ? "Enabled" : "Disabled"}</Field>
          {enabled && <Field name="Rotation period">{status.value.RotationPeriodInDays} days</Field>}
          {enabled && <Field name="Next rotation">{formatDate(status.value.NextRotationDate)}</Field>}
          {status.value.OnDemandRotationStartDate && (
            <Field name="On-demand rotation started">{formatDate(status.value.OnDemandRotationStartDate)}</Field>
          )}
        </dl>
      )}
      <form class="inline" onSubmit={toggle}>
        {!enabled && (
          <label>
            Rotation period (90–2560 days)
            <input
              type="number"
              min={90}
              max={2560}
              value={period}
              onInput={(e) => setPeriod(Number(e.currentTarget.value))}
            />
          </label>
        )}
        <button type="submit">{enabled ? "Disable automatic rotation" : "Enable automatic rotation"}</button>
      </form>
      <h3>Rotation history</h3>
      <ErrorBox error={history.error} />
      <table class="grid compact">
        <thead>
          <tr>
            <th scope="col">Rotated</th>
            <th scope="col">Type</th>
          </tr>
        </thead>
        <tbody>
          {(history.value?.Rotations ?? []).map((rotation) => (
            <tr key={String(rotation.RotationDate)}>
              <td>{formatDate(rotation.RotationDate)}</td>
              <td>{rotation.RotationType}</td>
            </tr>
          ))}
          {history.value?.Rotations?.length === 0 && (
            <tr>
              <td colSpan={2}>The key has not been rotated.</td>
            </tr>
          )}
        </tbody>
      </table>
    </Section>
  );
}

function KeyPolicy({ clients, keyId }: { clients: Clients; keyId: string }) {
  const policy = useLoad(
    () => clients.kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: "default" })),
    [clients, keyId],
  );
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const stored = policy.value?.Policy;
  useEffect(() => {
    if (stored !== undefined) setText(JSON.stringify(JSON.parse(stored), null, 2));
  }, [stored]);
  const problem = text === null ? null : jsonProblem(text);
  const save = async (event: Event) => {
    event.preventDefault();
    if (text === null || problem !== null) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await clients.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: text }));
      setSaved(true);
      policy.reload();
    } catch (thrown) {
      setError(shownError(thrown));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Key policy">
      <ErrorBox error={policy.error} />
      {text !== null && (
        <form onSubmit={save} class="policy-editor">
          <label for="policy-text">Policy document (JSON)</label>
          <textarea
            id="policy-text"
            rows={Math.min(30, Math.max(10, text.split("\n").length + 1))}
            spellcheck={false}
            value={text}
            aria-invalid={problem !== null}
            aria-describedby="policy-status"
            onInput={(e) => {
              setText(e.currentTarget.value);
              setSaved(false);
            }}
          />
          <p id="policy-status" class={problem ? "invalid" : "valid"} aria-live="polite">
            {problem
              ? `Not valid JSON at line ${problem.line}, column ${problem.column}: ${problem.message}`
              : "Valid JSON. Saving sends it to PutKeyPolicy, which checks the policy itself and saves it only if it is accepted."}
          </p>
          <ErrorBox error={error} />
          {saved && <Notice>The key policy is saved.</Notice>}
          <div class="actions">
            <button type="submit" class="primary" disabled={problem !== null || busy}>
              Save policy
            </button>
            <button
              type="button"
              onClick={() => {
                setText(stored === undefined ? null : JSON.stringify(JSON.parse(stored), null, 2));
                setError(null);
              }}
            >
              Revert
            </button>
          </div>
        </form>
      )}
    </Section>
  );
}

function Grants({ clients, metadata }: { clients: Clients; metadata: KeyMetadata }) {
  const keyId = metadata.KeyId as string;
  const grants = useLoad(async () => {
    const all: GrantListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await clients.kms.send(
        new ListGrantsCommand({ KeyId: keyId, Limit: 100, ...(marker ? { Marker: marker } : {}) }),
      );
      all.push(...(page.Grants ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return all;
  }, [clients, keyId]);
  const operations = grantOperationsFor(metadata);
  const [grantee, setGrantee] = useState("");
  const [retiring, setRetiring] = useState("");
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<Set<GrantOperation>>(new Set());
  const [error, setError] = useState<ShownError | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  return (
    <Section title="Grants">
      <ErrorBox error={grants.error} />
      <table class="grid compact">
        <thead>
          <tr>
            <th scope="col">Name / ID</th>
            <th scope="col">Grantee</th>
            <th scope="col">Operations</th>
            <th scope="col">Retiring principal</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(grants.value ?? []).map((grant) => (
            <tr key={grant.GrantId}>
              <td>
                {grant.Name && <div>{grant.Name}</div>}
                <span class="mono small">{grant.GrantId}</span>
              </td>
              <td class="mono small">{grant.GranteePrincipal}</td>
              <td>{grant.Operations?.join(", ")}</td>
              <td class="mono small">{grant.RetiringPrincipal ?? "—"}</td>
              <td>{formatDate(grant.CreationDate)}</td>
              <td class="actions">
                <ConfirmAction
                  label="Retire"
                  title="Retire grant"
                  confirmLabel="Retire grant"
                  danger
                  onConfirm={async () => {
                    await clients.kms.send(
                      new RetireGrantCommand({ KeyId: metadata.Arn as string, GrantId: grant.GrantId as string }),
                    );
                    grants.reload();
                  }}
                >
                  <p>
                    Retire grant <span class="mono">{grant.GrantId}</span>: its grantee loses the operations it allowed.
                    Retiring is for the grant's retiring principal or grantee (or the key's account).
                  </p>
                </ConfirmAction>
                <ConfirmAction
                  label="Revoke"
                  title="Revoke grant"
                  confirmLabel="Revoke grant"
                  danger
                  onConfirm={async () => {
                    await clients.kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grant.GrantId as string }));
                    grants.reload();
                  }}
                >
                  <p>
                    Revoke grant <span class="mono">{grant.GrantId}</span>: its grantee loses the operations it allowed,
                    now. Revoking needs kms:RevokeGrant on the key.
                  </p>
                </ConfirmAction>
              </td>
            </tr>
          ))}
          {grants.value?.length === 0 && (
            <tr>
              <td colSpan={6}>No grants.</td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        class="grant-form"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          setCreated(null);
          try {
            const answer = await clients.kms.send(
              new CreateGrantCommand({
                KeyId: keyId,
                GranteePrincipal: grantee,
                Operations: [...chosen],
                ...(retiring ? { RetiringPrincipal: retiring } : {}),
                ...(name ? { Name: name } : {}),
              }),
            );
            setCreated(`Grant ${answer.GrantId} created.`);
            grants.reload();
          } catch (thrown) {
            setError(shownError(thrown));
          }
        }}
      >
        <h3>Create a grant</h3>
        <label>
          Grantee principal (ARN)
          <input value={grantee} onInput={(e) => setGrantee(e.currentTarget.value)} required spellcheck={false} />
        </label>
        <fieldset>
          <legend>Operations</legend>
          {operations.map((operation) => (
            <label class="check" key={operation}>
              <input
                type="checkbox"
                checked={chosen.has(operation)}
                onChange={(e) => {
                  const next = new Set(chosen);
                  if (e.currentTarget.checked) next.add(operation);
                  else next.delete(operation);
                  setChosen(next);
                }}
              />
              {operation}
            </label>
          ))}
        </fieldset>
        <label>
          Retiring principal (optional)
          <input value={retiring} onInput={(e) => setRetiring(e.currentTarget.value)} spellcheck={false} />
        </label>
        <label>
          Name (optional)
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        {created && <Notice>{created}</Notice>}
        <button type="submit">Create grant</button>
      </form>
    </Section>
  );
}
