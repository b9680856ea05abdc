import {
  type DataKeyPairSpec,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  type EncryptionAlgorithmSpec,
  GenerateDataKeyPairCommand,
  type KeyMetadata,
  SignCommand,
  type SigningAlgorithmSpec,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { useState } from "preact/hooks";
import { DATA_KEY_PAIR_SPECS } from "../../../src/domain/key-specs";
import { type Clients, type ShownError, shownError } from "../aws";
import { ErrorBox, useLoad } from "../components";

type Operation = "encrypt" | "decrypt" | "data-key-pair" | "sign" | "verify";

const OPERATIONS: Record<Operation, string> = {
  encrypt: "Encrypt",
  decrypt: "Decrypt",
  "data-key-pair": "Generate data key pair",
  sign: "Sign",
  verify: "Verify",
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: false });

export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text.replace(/\s+/g, ""));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function pem(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}${body.endsWith("\n") ? "" : "\n"}-----END ${label}-----`;
}

export function TryItPage({ clients, keyId: initialKeyId }: { clients: Clients; keyId: string | undefined }) {
  const [keyId, setKeyId] = useState(initialKeyId ?? "");
  const [operation, setOperation] = useState<Operation>("encrypt");
  const [input, setInput] = useState("");
  const [signature, setSignature] = useState("");
  const [context, setContext] = useState("");
  const [algorithm, setAlgorithm] = useState("");
  const [pairSpec, setPairSpec] = useState<DataKeyPairSpec>("ECC_NIST_P256");
  const [output, setOutput] = useState<{ label: string; text: string }[] | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);
  const described = useLoad(
    async () =>
      keyId.trim() === ""
        ? null
        : ((await clients.kms.send(new DescribeKeyCommand({ KeyId: keyId.trim() }))).KeyMetadata as KeyMetadata),
    [clients, keyId],
  );
  const metadata = described.value;
  const algorithms: string[] =
    operation === "sign" || operation === "verify"
      ? (metadata?.SigningAlgorithms ?? [])
      : (metadata?.EncryptionAlgorithms ?? []);
  const chosenAlgorithm = algorithms.includes(algorithm) ? algorithm : algorithms[0];
  const encryptionContext = (): Record<string, string> | undefined => {
    if (context.trim() === "") return undefined;
    const parsed = JSON.parse(context) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("The encryption context is a JSON object of strings.");
    return parsed as Record<string, string>;
  };
  const run = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setOutput(null);
    const KeyId = keyId.trim();
    try {
      if (operation === "encrypt") {
        const answer = await clients.kms.send(
          new EncryptCommand({
            KeyId,
            Plaintext: utf8.encode(input),
            ...(chosenAlgorithm ? { EncryptionAlgorithm: chosenAlgorithm as EncryptionAlgorithmSpec } : {}),
            ...(encryptionContext() ? { EncryptionContext: encryptionContext() } : {}),
          }),
        );
        setOutput([
          { label: "Ciphertext (base64)", text: toBase64(answer.CiphertextBlob as Uint8Array) },
          { label: "Key", text: String(answer.KeyId) },
        ]);
      } else if (operation === "decrypt") {
        const answer = await clients.kms.send(
          new DecryptCommand({
            CiphertextBlob: fromBase64(input),
            ...(KeyId ? { KeyId } : {}),
            ...(chosenAlgorithm && metadata?.KeySpec !== "SYMMETRIC_DEFAULT"
              ? { EncryptionAlgorithm: chosenAlgorithm as EncryptionAlgorithmSpec }
              : {}),
            ...(encryptionContext() ? { EncryptionContext: encryptionContext() } : {}),
          }),
        );
        setOutput([
          { label: "Plaintext (UTF-8)", text: fromUtf8.decode(answer.Plaintext as Uint8Array) },
          { label: "Key", text: String(answer.KeyId) },
        ]);
      } else if (operation === "data-key-pair") {
        const answer = await clients.kms.send(
          new GenerateDataKeyPairCommand({
            KeyId,
            KeyPairSpec: pairSpec,
            ...(encryptionContext() ? { EncryptionContext: encryptionContext() } : {}),
          }),
        );
        setOutput([
          { label: "Public key", text: pem("PUBLIC KEY", answer.PublicKey as Uint8Array) },
          {
            label: "Private key, encrypted under the KMS key (base64)",
            text: toBase64(answer.PrivateKeyCiphertextBlob as Uint8Array),
          },
          {
            label: "Private key (plaintext; shown once, keep it secret)",
            text: pem("PRIVATE KEY", answer.PrivateKeyPlaintext as Uint8Array),
          },
        ]);
      } else if (operation === "sign") {
        const answer = await clients.kms.send(
          new SignCommand({
            KeyId,
            Message: utf8.encode(input),
            MessageType: "RAW",
            SigningAlgorithm: chosenAlgorithm as SigningAlgorithmSpec,
          }),
        );
        setOutput([{ label: "Signature (base64)", text: toBase64(answer.Signature as Uint8Array) }]);
      } else {
        const answer = await clients.kms.send(
          new VerifyCommand({
            KeyId,
            Message: utf8.encode(input),
            MessageType: "RAW",
            Signature: fromBase64(signature),
            SigningAlgorithm: chosenAlgorithm as SigningAlgorithmSpec,
          }),
        );
        setOutput([
          { label: "Result", text: answer.SignatureValid ? "The signature is valid." : "The signature is not valid." },
        ]);
      }
    } catch (thrown) {
      setError(shownError(thrown));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>Try it</h1>
      <p>Run one operation with a key as the signed-in principal — to check a key policy, a grant or a setup.</p>
      <form class="form wide" onSubmit={run}>
        <label>
          Key (ID, ARN or alias)
          <input
            value={keyId}
            onInput={(e) => setKeyId(e.currentTarget.value)}
            spellcheck={false}
            required={operation !== "decrypt"}
          />
        </label>
        {metadata && (
          <p class="hint">
            {metadata.KeySpec} · {metadata.KeyUsage} · {metadata.KeyState}
          </p>
        )}
        {described.error && keyId.trim() !== "" && <ErrorBox error={described.error} />}
        <fieldset>
          <legend>Operation</legend>
          {(Object.keys(OPERATIONS) as Operation[]).map((op) => (
            <label class="check" key={op}>
              <input
                type="radio"
                name="operation"
                checked={operation === op}
                onChange={() => {
                  setOperation(op);
                  setOutput(null);
                  setError(null);
                }}
              />
              {OPERATIONS[op]}
            </label>
          ))}
        </fieldset>
        {algorithms.length > 0 && operation !== "data-key-pair" && (
          <label>
            Algorithm
            <select value={chosenAlgorithm} onChange={(e) => setAlgorithm(e.currentTarget.value)}>
              {algorithms.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </label>
        )}
        {operation === "data-key-pair" ? (
          <label>
            Key pair spec
            <select value={pairSpec} onChange={(e) => setPairSpec(e.currentTarget.value as DataKeyPairSpec)}>
              {DATA_KEY_PAIR_SPECS.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            {operation === "decrypt" ? "Ciphertext (base64)" : "Message (UTF-8 text)"}
            <textarea rows={4} value={input} onInput={(e) => setInput(e.currentTarget.value)} spellcheck={false} />
          </label>
        )}
        {operation === "verify" && (
          <label>
            Signature (base64)
            <textarea
              rows={3}
              value={signature}
              onInput={(e) => setSignature(e.currentTarget.value)}
              spellcheck={false}
            />
          </label>
        )}
        {(operation === "encrypt" || operation === "decrypt" || operation === "data-key-pair") && (
          <label>
            Encryption context (optional JSON object)
            <input
              value={context}
              onInput={(e) => setContext(e.currentTarget.value)}
              placeholder='{"purpose": "test"}'
              spellcheck={false}
            />
          </label>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Running…" : OPERATIONS[operation]}
        </button>
      </form>
      <ErrorBox error={error} />
      {output && (
        <section class="panel" aria-label="Result">
          <h2>Result</h2>
          {output.map((item) => (
            <div key={item.label}>
              <h3>{item.label}</h3>
              <pre class="output">{item.text}</pre>
            </div>
          ))}
        </section>
      )}
    </>
  );
}
