import { CreateAliasCommand, CreateKeyCommand, type KeySpec, type OriginType } from "@aws-sdk/client-kms";
import { useState } from "preact/hooks";
import { type Clients, type ShownError, shownError } from "../aws";
import { ErrorBox } from "../components";
import { type KeyKind, type KeyUsage, KIND_LABELS, SPEC_CHOICES, USAGE_LABELS } from "../key-specs";
import { jsonProblem } from "../policy-json";
import { navigate } from "../router";

const STEPS = ["Key type", "Labels", "Key policy", "Review"] as const;

export function CreateKeyPage({ clients }: { clients: Clients }) {
  const [step, setStep] = useState(0);
  const [kind, setKind] = useState<KeyKind>("symmetric");
  const [usage, setUsage] = useState<KeyUsage>("ENCRYPT_DECRYPT");
  const [spec, setSpec] = useState("SYMMETRIC_DEFAULT");
  const [origin, setOrigin] = useState<OriginType>("AWS_KMS");
  const [multiRegion, setMultiRegion] = useState(false);
  const [customKeyStoreId, setCustomKeyStoreId] = useState("");
  const [alias, setAlias] = useState("");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState<{ key: string; value: string }[]>([]);
  const [customPolicy, setCustomPolicy] = useState(false);
  const [policy, setPolicy] = useState(
    JSON.stringify(
      {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "Enable IAM User Permissions",
            Effect: "Allow",
            Principal: { AWS: `arn:aws:iam::ACCOUNT_ID:root` },
            Action: "kms:*",
            Resource: "*",
          },
        ],
      },
      null,
      2,
    ),
  );
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);

  const usages = [...new Set(SPEC_CHOICES.filter((c) => c.kind === kind).map((c) => c.usage))];
  const specs = SPEC_CHOICES.filter((c) => c.kind === kind && c.usage === usage);
  const choice = specs.find((c) => c.spec === spec) ?? specs[0];
  const chooseKind = (next: KeyKind) => {
    setKind(next);
    const first = SPEC_CHOICES.find((c) => c.kind === next);
    if (first) {
      setUsage(first.usage);
      setSpec(first.spec);
    }
  };
  const chooseUsage = (next: KeyUsage) => {
    setUsage(next);
    const first = SPEC_CHOICES.find((c) => c.kind === kind && c.usage === next);
    if (first) setSpec(first.spec);
  };
  const policyProblem = customPolicy ? jsonProblem(policy) : null;
  const aliasProblem =
    alias !== "" && !/^alias\/[a-zA-Z0-9/_-]+$/.test(alias)
      ? "An alias is alias/ then letters, digits, / _ or -."
      : null;
  const storeReady = origin !== "AWS_CLOUDHSM" || (choice?.spec === "SYMMETRIC_DEFAULT" && customKeyStoreId !== "");
  const canAdvance = [storeReady, aliasProblem === null, policyProblem === null, true][step];

  const create = async () => {
    if (choice === undefined) return;
    setBusy(true);
    setError(null);
    try {
      const created = await clients.kms.send(
        new CreateKeyCommand({
          KeySpec: choice.spec as KeySpec,
          KeyUsage: choice.usage,
          Origin: origin,
          MultiRegion: multiRegion,
          ...(origin === "AWS_CLOUDHSM" ? { CustomKeyStoreId: customKeyStoreId } : {}),
          ...(description ? { Description: description } : {}),
          ...(customPolicy ? { Policy: policy } : {}),
          ...(tags.length
            ? { Tags: tags.filter((t) => t.key).map((t) => ({ TagKey: t.key, TagValue: t.value })) }
            : {}),
        }),
      );
      const keyId = created.KeyMetadata?.KeyId as string;
      if (alias) {
        try {
          await clients.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
        } catch (thrown) {
          setError({
            ...shownError(thrown),
            message: `The key ${keyId} was created, but not its alias: ${shownError(thrown).message}`,
          });
          return;
        }
      }
      navigate({ page: "key", keyId });
    } catch (thrown) {
      setError(shownError(thrown));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>Create key</h1>
      <ol class="steps" aria-label="Steps">
        {STEPS.map((name, index) => (
          <li key={name} aria-current={index === step ? "step" : undefined} class={index < step ? "done" : ""}>
            {index + 1}. {name}
          </li>
        ))}
      </ol>
      <form
        class="wizard"
        onSubmit={(event) => {
          event.preventDefault();
          if (step < STEPS.length - 1) setStep(step + 1);
          else void create();
        }}
      >
        {step === 0 && (
          <>
            <fieldset>
              <legend>Key type</legend>
              {(Object.keys(KIND_LABELS) as KeyKind[]).map((k) => (
                <label class="check" key={k}>
                  <input type="radio" name="kind" checked={kind === k} onChange={() => chooseKind(k)} />
                  {KIND_LABELS[k]}
                </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>Key usage</legend>
              {usages.map((u) => (
                <label class="check" key={u}>
                  <input type="radio" name="usage" checked={usage === u} onChange={() => chooseUsage(u)} />
                  {USAGE_LABELS[u]}
                </label>
              ))}
            </fieldset>
            <label>
              Key spec
              <select value={choice?.spec} onChange={(e) => setSpec(e.currentTarget.value)}>
                {specs.map((c) => (
                  <option key={c.spec} value={c.spec}>
                    {c.spec}
                  </option>
                ))}
              </select>
            </label>
            <p class="hint">
              Algorithms this key will allow: <strong>{choice?.algorithms.join(", ")}</strong>
            </p>
            <details>
              <summary>Advanced options</summary>
              <fieldset>
                <legend>Key material origin</legend>
                <label class="check">
                  <input
                    type="radio"
                    name="origin"
                    checked={origin === "AWS_KMS"}
                    onChange={() => setOrigin("AWS_KMS")}
                  />
                  Trent (KMS) makes the key material
                </label>
                <label class="check">
                  <input
                    type="radio"
                    name="origin"
                    checked={origin === "EXTERNAL"}
                    onChange={() => setOrigin("EXTERNAL")}
                  />
                  External — you import the key material (the key waits in PendingImport)
                </label>
                {choice?.spec === "SYMMETRIC_DEFAULT" && (
                  <label class="check">
                    <input
                      type="radio"
                      name="origin"
                      checked={origin === "AWS_CLOUDHSM"}
                      onChange={() => {
                        setOrigin("AWS_CLOUDHSM");
                        setMultiRegion(false);
                      }}
                    />
                    Custom key store — the key material is made in a connected CloudHSM key store
                  </label>
                )}
                {origin === "AWS_CLOUDHSM" && (
                  <label>
                    Custom key store ID
                    <input
                      value={customKeyStoreId}
                      onInput={(e) => setCustomKeyStoreId(e.currentTarget.value.trim())}
                      placeholder="cks-…"
                      required
                      spellcheck={false}
                    />
                  </label>
                )}
              </fieldset>
              <label class="check">
                <input
                  type="checkbox"
                  checked={multiRegion}
                  disabled={origin === "AWS_CLOUDHSM"}
                  onChange={(e) => setMultiRegion(e.currentTarget.checked)}
                />
                Multi-Region key (a primary that can be replicated)
              </label>
            </details>
          </>
        )}
        {step === 1 && (
          <>
            <label>
              Alias (optional)
              <input
                value={alias}
                onInput={(e) => setAlias(e.currentTarget.value)}
                placeholder="alias/my-key"
                spellcheck={false}
                aria-invalid={aliasProblem !== null}
              />
            </label>
            {aliasProblem && <p class="invalid">{aliasProblem}</p>}
            <label>
              Description (optional)
              <textarea rows={2} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            </label>
            <fieldset>
              <legend>Tags</legend>
              {tags.map((tag, index) => (
                <div class="inline" key={index}>
                  <label>
                    Tag key
                    <input
                      value={tag.key}
                      onInput={(e) =>
                        setTags(tags.map((t, i) => (i === index ? { ...t, key: e.currentTarget.value } : t)))
                      }
                    />
                  </label>
                  <label>
                    Tag value
                    <input
                      value={tag.value}
                      onInput={(e) =>
                        setTags(tags.map((t, i) => (i === index ? { ...t, value: e.currentTarget.value } : t)))
                      }
                    />
                  </label>
                  <button type="button" onClick={() => setTags(tags.filter((_, i) => i !== index))}>
                    Remove tag
                  </button>
                </div>
              ))}
              <button type="button" onClick={() => setTags([...tags, { key: "", value: "" }])}>
                Add tag
              </button>
            </fieldset>
          </>
        )}
        {step === 2 && (
          <>
            <fieldset>
              <legend>Key policy</legend>
              <label class="check">
                <input type="radio" name="policy" checked={!customPolicy} onChange={() => setCustomPolicy(false)} />
                The default key policy: the account (through its IAM-style identity policies) controls the key
              </label>
              <label class="check">
                <input type="radio" name="policy" checked={customPolicy} onChange={() => setCustomPolicy(true)} />A
                custom key policy
              </label>
            </fieldset>
            {customPolicy && (
              <>
                <label for="create-policy">Policy document (JSON)</label>
                <textarea
                  id="create-policy"
                  rows={16}
                  spellcheck={false}
                  value={policy}
                  onInput={(e) => setPolicy(e.currentTarget.value)}
                  aria-invalid={policyProblem !== null}
                />
                <p class={policyProblem ? "invalid" : "valid"} aria-live="polite">
                  {policyProblem
                    ? `Not valid JSON at line ${policyProblem.line}, column ${policyProblem.column}: ${policyProblem.message}`
                    : "Valid JSON. CreateKey checks the policy itself; replace ACCOUNT_ID with your account."}
                </p>
              </>
            )}
          </>
        )}
        {step === 3 && (
          <dl class="facts">
            <dt>Key spec</dt>
            <dd>{choice?.spec}</dd>
            <dt>Key usage</dt>
            <dd>{choice?.usage}</dd>
            <dt>Algorithms</dt>
            <dd>{choice?.algorithms.join(", ")}</dd>
            <dt>Origin</dt>
            <dd>{origin === "AWS_CLOUDHSM" ? `AWS_CLOUDHSM (custom key store ${customKeyStoreId})` : origin}</dd>
            <dt>Regionality</dt>
            <dd>{multiRegion ? "Multi-Region" : "Single Region"}</dd>
            <dt>Alias</dt>
            <dd>{alias || "—"}</dd>
            <dt>Description</dt>
            <dd>{description || "—"}</dd>
            <dt>Tags</dt>
            <dd>
              {tags
                .filter((t) => t.key)
                .map((t) => `${t.key}=${t.value}`)
                .join(", ") || "—"}
            </dd>
            <dt>Key policy</dt>
            <dd>{customPolicy ? "Custom" : "Default"}</dd>
          </dl>
        )}
        <ErrorBox error={error} />
        <div class="actions">
          {step > 0 && (
            <button type="button" onClick={() => setStep(step - 1)}>
              Back
            </button>
          )}
          <button type="submit" class="primary" disabled={!canAdvance || busy}>
            {step < STEPS.length - 1 ? "Next" : busy ? "Creating…" : "Create key"}
          </button>
        </div>
      </form>
    </>
  );
}
