import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CreateKeyCommand,
  DecryptCommand,
  DeriveSharedSecretCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateRandomCommand,
  GetPublicKeyCommand,
  KMSClient,
  PutKeyPolicyCommand,
} from "@aws-sdk/client-kms";
import {
  createTestAttestationCa,
  defaultPcrs,
  type MintOptions,
  mintAttestationDocument,
  type TestAttestationCa,
} from "../support/attestation-documents.js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * Recipient through the real server: Trent trusts a throwaway attestation CA (--attestation-roots),
 * the test mints documents for an RSA key it holds, and opens every CiphertextForRecipient with
 * OpenSSL's CMS implementation, as an enclave would with AWS's parser.
 */
let trent: TrentProcess;
let kms: KMSClient;
let ca: TestAttestationCa;
let keyId: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "trent-recipient-"));
  ca = await createTestAttestationCa();
  writeFileSync(join(dir, "roots.pem"), ca.rootPem);
  trent = await startTrentProcess(["--attestation-roots", join(dir, "roots.pem")]);
  kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
  keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
});

after(async () => {
  kms?.destroy();
  await trent?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function recipient(options: MintOptions = {}) {
  const minted = await mintAttestationDocument({ ca, ...options });
  return {
    privateKey: minted.privateKey,
    Recipient: { KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_256" as const, AttestationDocument: minted.document },
  };
}

/** Opens CiphertextForRecipient with `openssl cms -decrypt`, independent of Trent's encoder. */
function openWithOpenssl(envelope: Uint8Array, privateKey: KeyObject): Buffer {
  const name = createHash("sha256").update(envelope).digest("hex").slice(0, 16);
  writeFileSync(join(dir, `${name}.ber`), envelope);
  writeFileSync(join(dir, `${name}.pem`), privateKey.export({ type: "pkcs8", format: "pem" }));
  return execFileSync("openssl", [
    "cms",
    "-decrypt",
    "-inform",
    "DER",
    "-in",
    join(dir, `${name}.ber`),
    "-inkey",
    join(dir, `${name}.pem`),
    "-binary",
  ]);
}

async function rejection(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe("operations with a Recipient", () => {
  test("GenerateDataKey: no Plaintext or KeyMaterialId; the sealed data key opens and matches the ciphertext's", async () => {
    const { privateKey, Recipient } = await recipient();
    const answer = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", Recipient }));
    assert.equal(answer.Plaintext, undefined);
    assert.equal(answer.KeyMaterialId, undefined);
    const dataKey = openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, privateKey);
    assert.equal(dataKey.length, 32);
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: answer.CiphertextBlob }));
    assert.deepEqual(Buffer.from(decrypted.Plaintext as Uint8Array), dataKey);
  });

  test("Decrypt seals the plaintext to the enclave", async () => {
    const { privateKey, Recipient } = await recipient();
    const secret = Buffer.from("for the enclave only");
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: secret }));
    const answer = await kms.send(new DecryptCommand({ CiphertextBlob, Recipient }));
    assert.equal(answer.Plaintext, undefined);
    assert.equal(answer.KeyMaterialId, undefined);
    assert.equal(answer.EncryptionAlgorithm, "SYMMETRIC_DEFAULT");
    assert.deepEqual(openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, privateKey), secret);
  });

  test("GenerateDataKeyPair seals the private key; PublicKey is as without a Recipient", async () => {
    const { privateKey, Recipient } = await recipient();
    const answer = await kms.send(
      new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: "ECC_NIST_P256", Recipient }),
    );
    assert.equal(answer.PrivateKeyPlaintext, undefined);
    const pkcs8 = openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, privateKey);
    const opened = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    assert.deepEqual(
      Buffer.from(answer.PublicKey as Uint8Array),
      Buffer.from(
        (await import("node:crypto")).createPublicKey(opened).export({ type: "spki", format: "der" }) as Buffer,
      ),
    );
  });

  test("DeriveSharedSecret seals the secret", async () => {
    const { privateKey, Recipient } = await recipient();
    const agreeing = (await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "KEY_AGREEMENT" })))
      .KeyMetadata?.KeyId as string;
    const peer = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const answer = await kms.send(
      new DeriveSharedSecretCommand({
        KeyId: agreeing,
        KeyAgreementAlgorithm: "ECDH",
        PublicKey: peer.publicKey.export({ type: "spki", format: "der" }),
        Recipient,
      }),
    );
    assert.equal(answer.SharedSecret, undefined);
    const kmsPublic = (await kms.send(new GetPublicKeyCommand({ KeyId: agreeing }))).PublicKey as Uint8Array;
    const { diffieHellman, createPublicKey } = await import("node:crypto");
    const expected = diffieHellman({
      privateKey: peer.privateKey,
      publicKey: createPublicKey({ key: Buffer.from(kmsPublic), format: "der", type: "spki" }),
    });
    assert.deepEqual(openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, privateKey), expected);
  });

  test("GenerateRandom seals the random bytes", async () => {
    const { privateKey, Recipient } = await recipient();
    const answer = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64, Recipient }));
    assert.equal(answer.Plaintext, undefined);
    assert.equal(openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, privateKey).length, 64);
  });
});

describe("documents that are refused", () => {
  const cases: [string, MintOptions][] = [
    ["signed under an untrusted root", { untrustedRoot: true }],
    ["with a broken signature", { brokenSignature: true }],
    ["with an expired leaf certificate", { expired: "leaf" }],
    ["with a stale timestamp", { timestamp: new Date(Date.now() - 3_600_000) }],
    ["without a public key", { publicKey: null }],
    ["with an EC public key", { publicKey: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey }],
    ["that is garbage CBOR", { garbage: "random-bytes" }],
  ];
  for (const [label, options] of cases) {
    test(`a document ${label} is a ValidationException, and no secret is sealed`, async () => {
      const { Recipient } = await recipient(options);
      const outcome = await rejection(
        kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", Recipient })),
      );
      assert.match(outcome, /^ValidationException: The Recipient's attestation document is not valid: \S/);
    });
  }

  test("DryRun checks the document too", async () => {
    const bad = await recipient({ brokenSignature: true });
    assert.match(
      await rejection(
        kms.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", Recipient: bad.Recipient, DryRun: true }),
        ),
      ),
      /^ValidationException/,
    );
    const good = await recipient();
    assert.match(
      await rejection(
        kms.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", Recipient: good.Recipient, DryRun: true }),
        ),
      ),
      /^DryRunOperationException/,
    );
  });
});

test("a key policy that allows one enclave image (ImageSha384) gives that image the key and denies another", async () => {
  const allowedPcrs = defaultPcrs();
  const otherPcrs = defaultPcrs();
  otherPcrs.set(0, createHash("sha384").update("another image").digest());
  const imageHex = (allowedPcrs.get(0) as Buffer).toString("hex");
  const policyKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
  const root = `arn:aws:iam::${trent.accountId}:root`;
  const policy = {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "Administration",
        Effect: "Allow",
        Principal: { AWS: root },
        Action: ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"],
        Resource: "*",
      },
      {
        Sid: "OnlyThatImage",
        Effect: "Allow",
        Principal: { AWS: root },
        Action: "kms:GenerateDataKey",
        Resource: "*",
        Condition: { StringEqualsIgnoreCase: { "kms:RecipientAttestation:ImageSha384": imageHex } },
      },
    ],
  };
  await kms.send(new PutKeyPolicyCommand({ KeyId: policyKey, PolicyName: "default", Policy: JSON.stringify(policy) }));
  // The admin's identity policy allows kms:*, but the key policy allows GenerateDataKey only with that image.
  const allowed = await recipient({ pcrs: allowedPcrs });
  const answer = await kms.send(
    new GenerateDataKeyCommand({ KeyId: policyKey, KeySpec: "AES_256", Recipient: allowed.Recipient }),
  );
  assert.equal(openWithOpenssl(answer.CiphertextForRecipient as Uint8Array, allowed.privateKey).length, 32);
  const other = await recipient({ pcrs: otherPcrs });
  assert.match(
    await rejection(
      kms.send(new GenerateDataKeyCommand({ KeyId: policyKey, KeySpec: "AES_256", Recipient: other.Recipient })),
    ),
    /^AccessDeniedException/,
  );
  assert.match(
    await rejection(kms.send(new GenerateDataKeyCommand({ KeyId: policyKey, KeySpec: "AES_256" }))),
    /^AccessDeniedException/,
  );
});
