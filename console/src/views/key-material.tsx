import {
  DeleteImportedKeyMaterialCommand,
  GetParametersForImportCommand,
  type GetParametersForImportCommandOutput,
  ImportKeyMaterialCommand,
  type KeyMetadata,
  ListKeyRotationsCommand,
  ReplicateKeyCommand,
  type RotationsListEntry,
  UpdatePrimaryRegionCommand,
} from "@aws-sdk/client-kms";
import { useState } from "preact/hooks";
import { type Clients, clientsFor, type ShownError, shownError } from "../aws";
import { ConfirmAction, ErrorBox, formatDate, Notice, useLoad } from "../components";
import { href } from "../router";
import { loadSession, saveSession } from "../session";

type WrappingAlgorithm = "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256";
type WrappingSpec = "RSA_2048" | "RSA_3072" | "RSA_4096";

function pem(der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const base64 = btoa(binary).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN PUBLIC KEY-----\n${base64}-----END PUBLIC KEY-----`;
}

/** Wraps the material in the browser under the SPKI public key, as GetParametersForImport's algorithm says. */
async function wrap(publicKey: Uint8Array, algorithm: WrappingAlgorithm, material: ArrayBuffer): Promise<Uint8Array> {
  const hash = algorithm === "RSAES_OAEP_SHA_1" ? "SHA-1" : "SHA-256";
  const key = await crypto.subtle.importKey("spki", new Uint8Array(publicKey), { name: "RSA-OAEP", hash }, false, [
    "encrypt",
  ]);
  return new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, key, material));
}

/**
 * The import of key material into an EXTERNAL key: the plaintext material is read from a file,
 * wrapped here with WebCrypto and only its ciphertext is sent; it is not kept after the import.
 */
export function ImportMaterial({
  clients,
  metadata,
  reload,
}: {
  clients: Clients;
  metadata: KeyMetadata;
  reload: () => void;
}) {
  const keyId = metadata.KeyId as string;
  const materials = useLoad(async () => {
    const all: RotationsListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await clients.kms.send(
        new ListKeyRotationsCommand({
          KeyId: keyId,
          IncludeKeyMaterial: "ALL_KEY_MATERIAL",
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      all.push(...(page.Rotations ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return all;
  }, [clients, keyId, metadata.KeyState]);
  const [algorithm, setAlgorithm] = useState<WrappingAlgorithm>("RSAES_OAEP_SHA_256");
  const [spec, setSpec] = useState<WrappingSpec>("RSA_2048");
  const [parameters, setParameters] = useState<{
    algorithm: WrappingAlgorithm;
    output: GetParametersForImportCommandOutput;
  } | null>(null);
  const [expires, setExpires] = useState(false);
  const [validTo, setValidTo] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<ShownError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = () => {
    materials.reload();
    reload();
  };
  return (
    <section aria-labelledby="section-import" class="panel">
      <h2 id="section-import">Import key material</h2>
      <p>
        Key material is wrapped in this browser under a public key from GetParametersForImport; only the wrapped
        material is sent, and the plaintext is not kept after the import.
      </p>
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          setDone(null);
          try {
            const output = await clients.kms.send(
              new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }),
            );
            setParameters({ algorithm, output });
          } catch (thrown) {
            setError(shownError(thrown));
          }
        }}
      >
        <label>
          Wrapping algorithm
          <select value={algorithm} onChange={(e) => setAlgorithm(e.currentTarget.value as WrappingAlgorithm)}>
            <option value="RSAES_OAEP_SHA_256">RSAES_OAEP_SHA_256</option>
            <option value="RSAES_OAEP_SHA_1">RSAES_OAEP_SHA_1</option>
          </select>
        </label>
        <label>
          Wrapping key spec
          <select value={spec} onChange={(e) => setSpec(e.currentTarget.value as WrappingSpec)}>
            <option value="RSA_2048">RSA_2048</option>
            <option value="RSA_3072">RSA_3072</option>
            <option value="RSA_4096">RSA_4096</option>
          </select>
        </label>
        <button type="submit">Get wrapping key and import token</button>
      </form>
      {parameters && (
        <form
          class="grant-form"
          onSubmit={async (event) => {
            event.preventDefault();
            const form = event.currentTarget as HTMLFormElement;
            const input = form.elements.namedItem("material") as HTMLInputElement;
            const file = input.files?.[0];
            if (file === undefined) return;
            setError(null);
            setDone(null);
            setBusy(true);
            let material: Uint8Array | null = new Uint8Array(await file.arrayBuffer());
            try {
              const wrapped = await wrap(
                parameters.output.PublicKey as Uint8Array,
                parameters.algorithm,
                material.buffer as ArrayBuffer,
              );
              material.fill(0);
              material = null;
              const answer = await clients.kms.send(
                new ImportKeyMaterialCommand({
                  KeyId: keyId,
                  ImportToken: parameters.output.ImportToken,
                  EncryptedKeyMaterial: wrapped,
                  ExpirationModel: expires ? "KEY_MATERIAL_EXPIRES" : "KEY_MATERIAL_DOES_NOT_EXPIRE",
                  ...(expires && validTo ? { ValidTo: new Date(validTo) } : {}),
                  ...(description ? { KeyMaterialDescription: description } : {}),
                }),
              );
              setParameters(null);
              setDone(`Key material ${answer.KeyMaterialId ?? ""} is imported.`);
              refresh();
            } catch (thrown) {
              setError(shownError(thrown));
            } finally {
              material?.fill(0);
              input.value = "";
              setBusy(false);
            }
          }}
        >
          <h3>Wrapping public key ({parameters.algorithm})</h3>
          <pre class="output">{pem(parameters.output.PublicKey as Uint8Array)}</pre>
          <p>The import token expires {formatDate(parameters.output.ParametersValidTo)}.</p>
          <label>
            Key material file
            <input name="material" type="file" required />
          </label>
          <label class="check">
            <input type="checkbox" checked={expires} onChange={(e) => setExpires(e.currentTarget.checked)} />
            Key material expires
          </label>
          {expires && (
            <label>
              Valid to
              <input
                type="datetime-local"
                value={validTo}
                onInput={(e) => setValidTo(e.currentTarget.value)}
                required
              />
            </label>
          )}
          <label>
            Key material description (optional)
            <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} maxLength={256} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Importing…" : "Wrap and import"}
          </button>
        </form>
      )}
      <ErrorBox error={error ?? materials.error} />
      {done && <Notice>{done}</Notice>}
      <table class="grid compact">
        <thead>
          <tr>
            <th scope="col">Key material ID</th>
            <th scope="col">State</th>
            <th scope="col">Import state</th>
            <th scope="col">Expiration</th>
            <th scope="col">Description</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(materials.value ?? []).map((entry) => (
            <tr key={entry.KeyMaterialId}>
              <td class="mono small">{entry.KeyMaterialId}</td>
              <td>{entry.KeyMaterialState ?? "—"}</td>
              <td>{entry.ImportState ?? "—"}</td>
              <td>
                {entry.ExpirationModel === "KEY_MATERIAL_EXPIRES"
                  ? formatDate(entry.ValidTo)
                  : (entry.ExpirationModel ?? "—")}
              </td>
              <td>{entry.KeyMaterialDescription ?? "—"}</td>
              <td>
                {entry.ImportState === "IMPORTED" && (
                  <ConfirmAction
                    label="Delete key material"
                    title="Delete imported key material"
                    confirmLabel="Delete key material"
                    danger
                    onConfirm={async () => {
                      await clients.kms.send(
                        new DeleteImportedKeyMaterialCommand({
                          KeyId: keyId,
                          ...(entry.KeyMaterialId ? { KeyMaterialId: entry.KeyMaterialId } : {}),
                        }),
                      );
                      refresh();
                    }}
                  >
                    <p>
                      Delete key material <span class="mono">{entry.KeyMaterialId}</span> from key{" "}
                      <span class="mono">{keyId}</span>. Ciphertexts under it cannot be decrypted until you import the
                      same material again; if it is the current material, the key becomes PendingImport.
                    </p>
                  </ConfirmAction>
                )}
              </td>
            </tr>
          ))}
          {materials.value?.length === 0 && (
            <tr>
              <td colSpan={6}>No key material imported yet.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

/** Switches the console's signed-in region (the session's) and opens the key there. */
export function switchRegion(region: string, keyId?: string): void {
  const session = loadSession();
  if (session === null) return;
  saveSession({ ...session, region });
  if (keyId !== undefined) window.location.hash = href({ page: "key", keyId });
  window.location.reload();
}

function RegionLink({ arn, region, current }: { arn?: string; region?: string; current: string }) {
  const keyId = arn?.split("/").at(-1) ?? "";
  if (region === undefined) return null;
  if (region === current) return <span>{region} (this Region)</span>;
  return (
    <button type="button" class="link" onClick={() => switchRegion(region, keyId)}>
      Open in {region}
    </button>
  );
}

/** A multi-Region key's primary and replicas; ReplicateKey on the primary, UpdatePrimaryRegion on a replica. */
export function MultiRegion({
  clients,
  metadata,
  reload,
}: {
  clients: Clients;
  metadata: KeyMetadata;
  reload: () => void;
}) {
  const keyId = metadata.KeyId as string;
  const config = metadata.MultiRegionConfiguration;
  const current = clients.session.region;
  const [region, setRegion] = useState("");
  const [description, setDescription] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const isPrimary = config?.MultiRegionKeyType === "PRIMARY";
  return (
    <section aria-labelledby="section-multi-region" class="panel">
      <h2 id="section-multi-region">Multi-Region</h2>
      {done && <Notice>{done}</Notice>}
      <table class="grid compact">
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">ARN</th>
            <th scope="col">Region</th>
          </tr>
        </thead>
        <tbody>
          {config?.PrimaryKey && (
            <tr>
              <td>Primary</td>
              <td class="mono small">{config.PrimaryKey.Arn}</td>
              <td>
                <RegionLink arn={config.PrimaryKey.Arn} region={config.PrimaryKey.Region} current={current} />
              </td>
            </tr>
          )}
          {(config?.ReplicaKeys ?? []).map((replica) => (
            <tr key={replica.Arn}>
              <td>Replica</td>
              <td class="mono small">{replica.Arn}</td>
              <td>
                <RegionLink arn={replica.Arn} region={replica.Region} current={current} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="actions">
        {isPrimary && (
          <ConfirmAction
            label="Replicate to region"
            title="Replicate this key"
            confirmLabel="Replicate key"
            onConfirm={async () => {
              const answer = await clients.kms.send(
                new ReplicateKeyCommand({
                  KeyId: keyId,
                  ReplicaRegion: region.trim(),
                  ...(description ? { Description: description } : {}),
                }),
              );
              setDone(`Key ${keyId} is replicated to ${region.trim()}: ${answer.ReplicaKeyMetadata?.Arn ?? ""}.`);
              reload();
            }}
          >
            <p>
              Create a replica of key <span class="mono">{keyId}</span> in another Region: a key with the same key ID
              and key material, and its own key policy, description, aliases, grants and state.
            </p>
            <label>
              Replica Region
              <input value={region} onInput={(e) => setRegion(e.currentTarget.value)} required spellcheck={false} />
            </label>
            <label>
              Replica description (optional)
              <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} maxLength={8192} />
            </label>
          </ConfirmAction>
        )}
        {!isPrimary && config && (
          <ConfirmAction
            label="Make primary"
            title="Make this replica the primary key"
            confirmLabel="Make primary"
            onConfirm={async () => {
              // UpdatePrimaryRegion is a call on the primary key, in the primary's Region.
              const primaryRegion = config.PrimaryKey?.Region ?? current;
              const there = clientsFor({ ...clients.session, region: primaryRegion });
              await there.kms.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: current }));
              setDone(`Key ${keyId} in ${current} is becoming the primary key.`);
              reload();
            }}
          >
            <p>
              Make the replica of key <span class="mono">{keyId}</span> in {current} the primary key; the current
              primary in {config.PrimaryKey?.Region} becomes a replica. Only the primary can be replicated and shares
              its rotation and material settings with the replicas.
            </p>
          </ConfirmAction>
        )}
      </div>
    </section>
  );
}
