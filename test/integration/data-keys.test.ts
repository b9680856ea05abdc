import assert from "node:assert/strict";
import {
  type AsymmetricKeyDetails,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomUUID,
  sign,
  verify,
} from "node:crypto";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { buildClient, CommitmentPolicy, getClient, KMS, KmsKeyringNode } from "@aws-crypto/client-node";
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type DataKeyPairSpec,
  DecryptCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import type { HttpRequest } from "@smithy/protocol-http";
import kmsModel from "../../src/protocol/aws/kms-model.json" with { type: "json" };
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/** The key pair specs of Trent's model; newer SDKs add ML_KEM_*. */
type ClassicKeyPairSpec = Exclude<DataKeyPairSpec, "ML_KEM_512" | "ML_KEM_768" | "ML_KEM_1024">;

interface TestKey {
  readonly keyId: string;
  readonly arn: string;
}

let trent: TrentProcess;
let kms: KMSClient;
/** The key most tests use; reachable as ALIAS too. */
let main: TestKey;
/** A second enabled key. */
let other: TestKey;
let disabled: TestKey;
let pendingDeletion: TestKey;
/** Ciphertexts made before the key changed state. */
let disabledBlob: Uint8Array;
let pendingDeletionBlob: Uint8Array;
let aliasArn: string;

const ALIAS = "alias/data-keys-test";
const UNKNOWN_KEY_ID = randomUUID();
const CONTEXT = { Purpose: "integration-test", Team: "Blue" };
const DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set.";

async function createKey(description: string): Promise<TestKey> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description }));
  return { keyId: KeyMetadata?.KeyId as string, arn: KeyMetadata?.Arn as string };
}

async function encrypt(keyId: string, plaintext: Uint8Array, context?: Record<string, string>): Promise<Uint8Array> {
  const { CiphertextBlob } = await kms.send(
    new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, ...(context ? { EncryptionContext: context } : {}) }),
  );
  assert.ok(CiphertextBlob);
  return CiphertextBlob;
}

async function decrypt(blob: Uint8Array, context?: Record<string, string>): Promise<Buffer> {
  const { Plaintext } = await kms.send(
    new DecryptCommand({ CiphertextBlob: blob, ...(context ? { EncryptionContext: context } : {}) }),
  );
  assert.ok(Plaintext);
  return Buffer.from(Plaintext);
}

interface ExpectedError {
  readonly status?: number;
  readonly message?: string | RegExp;
}

/** Awaits a call that must fail with the AWS error `name`; returns the error for further checks. */
async function rejectsWith(call: Promise<unknown>, name: string, expected: ExpectedError = {}): Promise<Error> {
  let caught: unknown;
  await assert.rejects(call, (error: unknown) => {
    caught = error;
    return true;
  });
  const error = caught as Error & { $metadata?: { httpStatusCode?: number } };
  assert.equal(error.name, name, `expected ${name}, got ${error.name}: ${error.message}`);
  assert.equal(error.$metadata?.httpStatusCode, expected.status ?? 400, `${name} status`);
  if (typeof expected.message === "string") assert.equal(error.message, expected.message);
  else if (expected.message) assert.match(error.message, expected.message);
  return error;
}

/** The error name a call failed with, or "success": for sweeping many cases and reporting them all. */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "success";
  } catch (error) {
    return (error as Error).name;
  }
}

function flipBit(blob: Uint8Array, byte: number, bit: number): Uint8Array {
  const copy = Uint8Array.from(blob);
  copy[byte] = (copy[byte] as number) ^ (1 << bit);
  return copy;
}

before(async () => {
  trent = await startTrentProcess(["--key-pair-pool", "RSA_4096=1"]);
  kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
  [main, other, disabled, pendingDeletion] = await Promise.all([
    createKey("main"),
    createKey("other"),
    createKey("disabled"),
    createKey("pending deletion"),
  ]);
  await kms.send(new CreateAliasCommand({ AliasName: ALIAS, TargetKeyId: main.keyId }));
  aliasArn = main.arn.replace(/:key\/.*$/, `:${ALIAS}`);
  disabledBlob = await encrypt(disabled.keyId, Buffer.from("made while enabled"));
  pendingDeletionBlob = await encrypt(pendingDeletion.keyId, Buffer.from("made while enabled"));
  await kms.send(new DisableKeyCommand({ KeyId: disabled.keyId }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: pendingDeletion.keyId, PendingWindowInDays: 7 }));
});

after(async () => {
  kms?.destroy();
  await trent?.stop();
});

describe("GenerateDataKey", () => {
  const cases: Array<[string, { KeySpec?: "AES_128" | "AES_256"; NumberOfBytes?: number }, number]> = [
    ["KeySpec AES_128", { KeySpec: "AES_128" }, 16],
    ["KeySpec AES_256", { KeySpec: "AES_256" }, 32],
    ["NumberOfBytes 1", { NumberOfBytes: 1 }, 1],
    ["NumberOfBytes 64", { NumberOfBytes: 64 }, 64],
    ["NumberOfBytes 1024", { NumberOfBytes: 1024 }, 1024],
  ];
  for (const [name, size, length] of cases) {
    test(`${name}: ${length}-byte Plaintext whose CiphertextBlob decrypts to it without a KeyId`, async () => {
      const response = await kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, ...size }));
      assert.equal(response.Plaintext?.length, length);
      assert.equal(response.KeyId, main.arn);
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: response.CiphertextBlob }));
      assert.deepEqual(Buffer.from(decrypted.Plaintext as Uint8Array), Buffer.from(response.Plaintext as Uint8Array));
      assert.equal(decrypted.KeyId, main.arn);
    });
  }

  test("data keys are random: two calls give different keys and blobs", async () => {
    const [a, b] = await Promise.all([
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256" })),
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256" })),
    ]);
    assert.notDeepEqual(a.Plaintext, b.Plaintext);
    assert.notDeepEqual(a.CiphertextBlob, b.CiphertextBlob);
  });

  test("KeyId in the response is the key ARN for every way of naming the key", async () => {
    for (const keyId of [main.keyId, main.arn, ALIAS, aliasArn]) {
      const response = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256" }));
      assert.equal(response.KeyId, main.arn, keyId);
    }
  });

  test("both KeySpec and NumberOfBytes, or neither: ValidationException", async () => {
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256", NumberOfBytes: 32 })),
      "ValidationException",
    );
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId })), "ValidationException");
    await rejectsWith(
      kms.send(
        new GenerateDataKeyWithoutPlaintextCommand({ KeyId: main.keyId, KeySpec: "AES_128", NumberOfBytes: 16 }),
      ),
      "ValidationException",
    );
  });

  test("NumberOfBytes 0 or 1025: ValidationException in AWS's words", async () => {
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, NumberOfBytes: 0 })),
      "ValidationException",
      {
        message:
          "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
      },
    );
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, NumberOfBytes: 1025 })),
      "ValidationException",
      {
        message:
          "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
      },
    );
  });

  test("the encryption context is bound to the data key's blob", async () => {
    const response = await kms.send(
      new GenerateDataKeyCommand({ KeyId: ALIAS, KeySpec: "AES_256", EncryptionContext: CONTEXT }),
    );
    assert.deepEqual(
      await decrypt(response.CiphertextBlob as Uint8Array, CONTEXT),
      Buffer.from(response.Plaintext as Uint8Array),
    );
    await rejectsWith(decrypt(response.CiphertextBlob as Uint8Array), "InvalidCiphertextException");
  });
});

describe("GenerateDataKeyWithoutPlaintext", () => {
  test("returns no Plaintext; the blob decrypts to a key of the asked size", async () => {
    const response = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: ALIAS, KeySpec: "AES_256", EncryptionContext: CONTEXT }),
    );
    assert.equal("Plaintext" in response, false);
    assert.equal(response.KeyId, main.arn);
    assert.equal((await decrypt(response.CiphertextBlob as Uint8Array, CONTEXT)).length, 32);
    const bytes = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: main.arn, NumberOfBytes: 7 }));
    assert.equal((await decrypt(bytes.CiphertextBlob as Uint8Array)).length, 7);
  });
});

describe("GenerateDataKeyPair", () => {
  interface Expected {
    keyType?: string;
    details?: AsymmetricKeyDetails;
    digest: string | null;
  }
  const EXPECTED: Record<ClassicKeyPairSpec, Expected> = {
    RSA_2048: { keyType: "rsa", details: { modulusLength: 2048, publicExponent: 65537n }, digest: "sha256" },
    RSA_3072: { keyType: "rsa", details: { modulusLength: 3072, publicExponent: 65537n }, digest: "sha256" },
    RSA_4096: { keyType: "rsa", details: { modulusLength: 4096, publicExponent: 65537n }, digest: "sha256" },
    ECC_NIST_P256: { keyType: "ec", details: { namedCurve: "prime256v1" }, digest: "sha256" },
    ECC_NIST_P384: { keyType: "ec", details: { namedCurve: "secp384r1" }, digest: "sha384" },
    ECC_NIST_P521: { keyType: "ec", details: { namedCurve: "secp521r1" }, digest: "sha512" },
    ECC_SECG_P256K1: { keyType: "ec", details: { namedCurve: "secp256k1" }, digest: "sha256" },
    // Node reports no type or details for SM2 keys; the SPKI is checked for the curve OID instead.
    SM2: { digest: "sm3" },
    ECC_NIST_EDWARDS25519: { keyType: "ed25519", digest: null },
  };
  // OID 1.2.156.10197.1.301 (sm2), DER-encoded
  const SM2_OID = Buffer.from("06082a811ccf5501822d", "hex");

  test("the test covers every KeyPairSpec of Trent's model", () => {
    assert.deepEqual([...kmsModel.shapes.DataKeyPairSpec.enum].sort(), Object.keys(EXPECTED).sort());
  });

  function checkPublicKey(spec: ClassicKeyPairSpec, der: Uint8Array) {
    const expected = EXPECTED[spec];
    const publicKey = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    if (expected.keyType) assert.equal(publicKey.asymmetricKeyType, expected.keyType);
    if (expected.details) assert.deepEqual(publicKey.asymmetricKeyDetails, expected.details);
    if (spec === "SM2") assert.ok(Buffer.from(der).includes(SM2_OID), "SM2 SPKI names the sm2 curve");
    return publicKey;
  }

  /** Parses the PKCS#8 private key, checks it belongs to the public key, and proves it by signing. */
  function checkPrivateKey(spec: ClassicKeyPairSpec, privateDer: Uint8Array, publicDer: Uint8Array): void {
    const { digest } = EXPECTED[spec];
    const privateKey = createPrivateKey({ key: Buffer.from(privateDer), format: "der", type: "pkcs8" });
    const publicKey = createPublicKey({ key: Buffer.from(publicDer), format: "der", type: "spki" });
    assert.deepEqual(createPublicKey(privateKey).export({ type: "spki", format: "der" }), Buffer.from(publicDer));
    const message = Buffer.from(`GenerateDataKeyPair ${spec}`);
    assert.ok(verify(digest, message, publicKey, sign(digest, message, privateKey)), "signature verifies");
    assert.equal(verify(digest, Buffer.from("another message"), publicKey, sign(digest, message, privateKey)), false);
  }

  for (const spec of Object.keys(EXPECTED) as ClassicKeyPairSpec[]) {
    test(`${spec}: a DER SPKI public key, its PKCS#8 private key, and a blob of the private key`, async () => {
      const [first, second] = await Promise.all([
        kms.send(new GenerateDataKeyPairCommand({ KeyId: ALIAS, KeyPairSpec: spec, EncryptionContext: CONTEXT })),
        kms.send(new GenerateDataKeyPairCommand({ KeyId: main.keyId, KeyPairSpec: spec })),
      ]);
      assert.equal(first.KeyPairSpec, spec);
      assert.equal(first.KeyId, main.arn);
      checkPublicKey(spec, first.PublicKey as Uint8Array);
      checkPrivateKey(spec, first.PrivateKeyPlaintext as Uint8Array, first.PublicKey as Uint8Array);
      assert.deepEqual(
        await decrypt(first.PrivateKeyCiphertextBlob as Uint8Array, CONTEXT),
        Buffer.from(first.PrivateKeyPlaintext as Uint8Array),
      );
      await rejectsWith(decrypt(first.PrivateKeyCiphertextBlob as Uint8Array), "InvalidCiphertextException");
      assert.equal(second.KeyPairSpec, spec);
      checkPrivateKey(spec, second.PrivateKeyPlaintext as Uint8Array, second.PublicKey as Uint8Array);
      assert.notDeepEqual(Buffer.from(first.PublicKey as Uint8Array), Buffer.from(second.PublicKey as Uint8Array));
      assert.notDeepEqual(
        Buffer.from(first.PrivateKeyPlaintext as Uint8Array),
        Buffer.from(second.PrivateKeyPlaintext as Uint8Array),
      );
    });

    test(`${spec} WithoutPlaintext: no PrivateKeyPlaintext; the blob decrypts to the matching private key`, async () => {
      const response = await kms.send(
        new GenerateDataKeyPairWithoutPlaintextCommand({
          KeyId: aliasArn,
          KeyPairSpec: spec,
          EncryptionContext: CONTEXT,
        }),
      );
      assert.equal("PrivateKeyPlaintext" in response, false);
      assert.equal(response.KeyPairSpec, spec);
      assert.equal(response.KeyId, main.arn);
      checkPublicKey(spec, response.PublicKey as Uint8Array);
      const privateKey = await decrypt(response.PrivateKeyCiphertextBlob as Uint8Array, CONTEXT);
      checkPrivateKey(spec, privateKey, response.PublicKey as Uint8Array);
    });
  }

  test("an unknown KeyPairSpec: ValidationException", async () => {
    await rejectsWith(
      kms.send(new GenerateDataKeyPairCommand({ KeyId: main.keyId, KeyPairSpec: "RSA_1024" as DataKeyPairSpec })),
      "ValidationException",
    );
  });
});

describe("Encrypt and Decrypt", () => {
  test("1 and 4096 bytes round-trip; the response names the key by ARN", async () => {
    for (const length of [1, 4096]) {
      const plaintext = randomBytes(length);
      const encrypted = await kms.send(new EncryptCommand({ KeyId: main.keyId, Plaintext: plaintext }));
      assert.equal(encrypted.KeyId, main.arn);
      assert.equal(encrypted.EncryptionAlgorithm, "SYMMETRIC_DEFAULT");
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
      assert.deepEqual(Buffer.from(decrypted.Plaintext as Uint8Array), plaintext);
      assert.equal(decrypted.KeyId, main.arn);
      assert.equal(decrypted.EncryptionAlgorithm, "SYMMETRIC_DEFAULT");
    }
  });

  test("4097 bytes: ValidationException without echoing the plaintext", async () => {
    await rejectsWith(
      kms.send(new EncryptCommand({ KeyId: main.keyId, Plaintext: randomBytes(4097) })),
      "ValidationException",
      {
        message:
          "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
      },
    );
  });

  test("Encrypt takes the key by id, ARN, alias name and alias ARN", async () => {
    for (const keyId of [main.keyId, main.arn, ALIAS, aliasArn]) {
      const encrypted = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") }));
      assert.equal(encrypted.KeyId, main.arn, keyId);
    }
  });

  test("Decrypt with the right KeyId, given as id, ARN, alias name or alias ARN", async () => {
    const blob = await encrypt(main.keyId, Buffer.from("named key"));
    for (const keyId of [main.keyId, main.arn, ALIAS, aliasArn]) {
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: keyId }));
      assert.equal(Buffer.from(decrypted.Plaintext as Uint8Array).toString(), "named key", keyId);
      assert.equal(decrypted.KeyId, main.arn);
    }
  });

  test("Decrypt with another key's KeyId: IncorrectKeyException", async () => {
    const blob = await encrypt(main.keyId, Buffer.from("named key"));
    for (const keyId of [other.keyId, other.arn]) {
      await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: keyId })), "IncorrectKeyException");
    }
  });

  test("two encryptions of the same plaintext differ", async () => {
    const plaintext = Buffer.from("same");
    assert.notDeepEqual(
      Buffer.from(await encrypt(main.keyId, plaintext)),
      Buffer.from(await encrypt(main.keyId, plaintext)),
    );
  });

  test("Decrypt and ReEncrypt without a CiphertextBlob (optional in the model since DryRunModifiers), or an IGNORE_CIPHERTEXT dry run without KeyId: ValidationException", async () => {
    const outcomes = {
      "Decrypt {}": await outcomeOf(kms.send(new DecryptCommand({}))),
      "ReEncrypt without CiphertextBlob": await outcomeOf(
        kms.send(new ReEncryptCommand({ DestinationKeyId: main.keyId })),
      ),
      "Decrypt IGNORE_CIPHERTEXT dry run without KeyId": await outcomeOf(
        kms.send(new DecryptCommand({ DryRun: true, DryRunModifiers: ["IGNORE_CIPHERTEXT"] })),
      ),
    };
    assert.deepEqual(outcomes, {
      "Decrypt {}": "ValidationException",
      "ReEncrypt without CiphertextBlob": "ValidationException",
      "Decrypt IGNORE_CIPHERTEXT dry run without KeyId": "ValidationException",
    });
  });
});

describe("ReEncrypt", () => {
  const SOURCE_CONTEXT = { stage: "source" };
  const DESTINATION_CONTEXT = { stage: "destination" };

  test("moves a ciphertext to another key and context; only the destination context opens the result", async () => {
    const plaintext = Buffer.from("re-encrypt me");
    const blob = await encrypt(main.keyId, plaintext, SOURCE_CONTEXT);
    const response = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: blob,
        SourceEncryptionContext: SOURCE_CONTEXT,
        DestinationKeyId: other.keyId,
        DestinationEncryptionContext: DESTINATION_CONTEXT,
      }),
    );
    assert.equal(response.SourceKeyId, main.arn);
    assert.equal(response.KeyId, other.arn);
    const reEncrypted = response.CiphertextBlob as Uint8Array;
    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: reEncrypted, EncryptionContext: DESTINATION_CONTEXT }),
    );
    assert.deepEqual(Buffer.from(decrypted.Plaintext as Uint8Array), plaintext);
    assert.equal(decrypted.KeyId, other.arn);
    await rejectsWith(decrypt(reEncrypted, SOURCE_CONTEXT), "InvalidCiphertextException");
    await rejectsWith(decrypt(reEncrypted), "InvalidCiphertextException");
    await rejectsWith(
      kms.send(
        new DecryptCommand({ CiphertextBlob: reEncrypted, EncryptionContext: DESTINATION_CONTEXT, KeyId: main.keyId }),
      ),
      "IncorrectKeyException",
    );
  });

  test("source and destination named by alias and ARN; response ids are ARNs", async () => {
    const blob = await encrypt(other.keyId, Buffer.from("back again"));
    const response = await kms.send(
      new ReEncryptCommand({ CiphertextBlob: blob, SourceKeyId: other.arn, DestinationKeyId: ALIAS }),
    );
    assert.equal(response.SourceKeyId, other.arn);
    assert.equal(response.KeyId, main.arn);
    assert.equal((await decrypt(response.CiphertextBlob as Uint8Array)).toString(), "back again");
  });

  test("a wrong source context is InvalidCiphertextException; a wrong SourceKeyId is IncorrectKeyException", async () => {
    const blob = await encrypt(main.keyId, Buffer.from("x"), SOURCE_CONTEXT);
    await rejectsWith(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: blob,
          SourceEncryptionContext: { stage: "Source" },
          DestinationKeyId: other.keyId,
        }),
      ),
      "InvalidCiphertextException",
    );
    await rejectsWith(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: blob,
          SourceEncryptionContext: SOURCE_CONTEXT,
          SourceKeyId: other.keyId,
          DestinationKeyId: other.keyId,
        }),
      ),
      "IncorrectKeyException",
    );
  });
});

describe("GenerateRandom", () => {
  test("1 and 1024 bytes; two results differ", async () => {
    const one = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 1 }));
    assert.equal(one.Plaintext?.length, 1);
    const [a, b] = await Promise.all([
      kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 })),
      kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 })),
    ]);
    assert.equal(a.Plaintext?.length, 1024);
    assert.notDeepEqual(a.Plaintext, b.Plaintext);
  });

  test("0, 1025 or no NumberOfBytes: ValidationException in AWS's words", async () => {
    await rejectsWith(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })), "ValidationException", {
      message:
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    });
    await rejectsWith(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })), "ValidationException", {
      message:
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    });
    await rejectsWith(kms.send(new GenerateRandomCommand({})), "ValidationException", {
      message: "NumberOfBytes is required.",
    });
  });
});

describe("Encryption context", () => {
  let blob: Uint8Array;
  const plaintext = Buffer.from("context bound");

  before(async () => {
    blob = await encrypt(main.keyId, plaintext, CONTEXT);
  });

  test("the exact context, in any pair order, decrypts", async () => {
    assert.deepEqual(await decrypt(blob, { Purpose: "integration-test", Team: "Blue" }), plaintext);
    assert.deepEqual(await decrypt(blob, { Team: "Blue", Purpose: "integration-test" }), plaintext);
  });

  test("a missing, partial, extra, wrong-case or wrong-valued context: InvalidCiphertextException", async () => {
    const wrong: Array<Record<string, string> | undefined> = [
      undefined,
      {},
      { Purpose: "integration-test" },
      { ...CONTEXT, Extra: "x" },
      { purpose: "integration-test", Team: "Blue" },
      { Purpose: "integration-test", TEAM: "Blue" },
      { Purpose: "integration-test", Team: "blue" },
      { Purpose: "integration-test", Team: "Blue " },
      { Purpose: "Integration-Test", Team: "Blue" },
    ];
    for (const context of wrong) {
      await rejectsWith(decrypt(blob, context), "InvalidCiphertextException");
    }
  });

  test("a blob made without context does not open with one", async () => {
    const bare = await encrypt(main.keyId, plaintext);
    await rejectsWith(decrypt(bare, { Purpose: "integration-test" }), "InvalidCiphertextException");
    assert.deepEqual(await decrypt(bare, {}), plaintext);
  });

  test("non-ASCII keys and values are bound byte for byte", async () => {
    const context = { clé: "värde", 键: "值" };
    const unicode = await encrypt(main.keyId, plaintext, context);
    assert.deepEqual(await decrypt(unicode, { 键: "值", clé: "värde" }), plaintext);
    await rejectsWith(decrypt(unicode, { "cle\u0301": "värde", 键: "值" }), "InvalidCiphertextException");
  });
});

describe("Tampered ciphertexts", () => {
  let blob: Uint8Array;

  before(async () => {
    blob = await encrypt(main.keyId, Buffer.from("tamper-evident payload"), CONTEXT);
    assert.equal((await decrypt(blob, CONTEXT)).toString(), "tamper-evident payload");
  });

  /** Decrypts each variant (a few at a time) and returns those that did not fail with InvalidCiphertextException. */
  async function notRejected(variants: Array<[string, Uint8Array]>): Promise<string[]> {
    const unexpected: string[] = [];
    for (let i = 0; i < variants.length; i += 16) {
      const batch = variants.slice(i, i + 16);
      const outcomes = await Promise.all(
        batch.map(([, variant]) =>
          outcomeOf(kms.send(new DecryptCommand({ CiphertextBlob: variant, EncryptionContext: CONTEXT }))),
        ),
      );
      outcomes.forEach((outcome, j) => {
        if (outcome !== "InvalidCiphertextException") unexpected.push(`${batch[j]?.[0]}: ${outcome}`);
      });
    }
    return unexpected;
  }

  test("every bit flipped in every header field, the body and the tag: InvalidCiphertextException", async () => {
    // version(1) keyType(1) keyIdLength(1) keyId(n) keyVersion(4) salt(32) iv(12) body tag(16)
    const keyIdLength = blob[2] as number;
    const keyVersionAt = 3 + keyIdLength;
    const saltAt = keyVersionAt + 4;
    const ivAt = saltAt + 32;
    const bodyAt = ivAt + 12;
    const tagAt = blob.length - 16;
    const positions: Record<string, number[]> = {
      version: [0],
      keyType: [1],
      keyIdLength: [2],
      keyId: [3, 3 + (keyIdLength >> 1), keyVersionAt - 1],
      keyVersion: [keyVersionAt, keyVersionAt + 1, keyVersionAt + 2, keyVersionAt + 3],
      salt: [saltAt, saltAt + 16, ivAt - 1],
      iv: [ivAt, ivAt + 6, bodyAt - 1],
      body: [bodyAt, bodyAt + 10, tagAt - 1],
      tag: [tagAt, tagAt + 8, blob.length - 1],
    };
    const variants: Array<[string, Uint8Array]> = [];
    for (const [field, bytes] of Object.entries(positions)) {
      for (const byte of bytes) {
        for (let bit = 0; bit < 8; bit++) variants.push([`${field} byte ${byte} bit ${bit}`, flipBit(blob, byte, bit)]);
      }
    }
    assert.deepEqual(await notRejected(variants), []);
  });

  test("truncated at many lengths, or with a byte appended: InvalidCiphertextException", async () => {
    const headerLength = 3 + (blob[2] as number) + 4 + 32 + 12;
    const lengths = [
      1,
      2,
      3,
      4,
      20,
      headerLength - 50,
      headerLength - 40,
      headerLength - 1,
      headerLength,
      headerLength + 1,
      headerLength + 15,
      headerLength + 16,
      blob.length - 16,
      blob.length - 1,
    ];
    const variants: Array<[string, Uint8Array]> = lengths.map((length) => [
      `truncated to ${length}`,
      blob.slice(0, length),
    ]);
    for (const extra of [0, 1, 255]) variants.push([`appended ${extra}`, Uint8Array.from([...blob, extra])]);
    variants.push(["tag moved to the front", Uint8Array.from([...blob.slice(-16), ...blob.slice(0, -16)])]);
    assert.deepEqual(await notRejected(variants), []);
  });

  test("random bytes, and another blob's body spliced under this header: InvalidCiphertextException", async () => {
    const other = await encrypt(main.keyId, Buffer.from("tamper-evident payloaX"), CONTEXT);
    const splice = Uint8Array.from([...blob.slice(0, blob.length - 38), ...other.slice(other.length - 38)]);
    assert.deepEqual(
      await notRejected([
        ["random 1 byte", randomBytes(1)],
        ["random 128 bytes", randomBytes(128)],
        ["spliced", splice],
      ]),
      [],
    );
  });
});

describe("GrantTokens", () => {
  let grantToken = "";
  const tokens = (n: number) => Array.from({ length: n }, () => grantToken);

  before(async () => {
    const caller = `arn:aws:iam::${trent.accountId}:user/admin`;
    const grant = await kms.send(
      new CreateGrantCommand({ KeyId: main.keyId, GranteePrincipal: caller, Operations: ["Encrypt", "Decrypt"] }),
    );
    grantToken = grant.GrantToken as string;
  });

  test("a malformed grant token is an InvalidGrantTokenException", async () => {
    await rejectsWith(
      kms.send(new EncryptCommand({ KeyId: main.keyId, Plaintext: Buffer.from("g"), GrantTokens: ["not-a-token"] })),
      "InvalidGrantTokenException",
    );
  });

  test("up to 10 are accepted", async () => {
    const blob = await kms.send(
      new EncryptCommand({ KeyId: main.keyId, Plaintext: Buffer.from("g"), GrantTokens: tokens(10) }),
    );
    await kms.send(new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob, GrantTokens: tokens(10) }));
    await kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256", GrantTokens: tokens(1) }));
    await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: blob.CiphertextBlob,
        DestinationKeyId: other.keyId,
        GrantTokens: tokens(10),
      }),
    );
  });

  test("11 are a ValidationException", async () => {
    const message =
      /^1 validation error detected: Value '.*' at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10$/;
    await rejectsWith(
      kms.send(new EncryptCommand({ KeyId: main.keyId, Plaintext: Buffer.from("g"), GrantTokens: tokens(11) })),
      "ValidationException",
      { message },
    );
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256", GrantTokens: tokens(11) })),
      "ValidationException",
      { message },
    );
  });
});

describe("DryRun", () => {
  const dryRun = async (call: Promise<unknown>) =>
    rejectsWith(call, "DryRunOperationException", { status: 412, message: DRY_RUN_MESSAGE });

  test("every crypto operation answers DryRunOperationException (412) when it would succeed", async () => {
    const blob = await encrypt(main.keyId, Buffer.from("dry"), CONTEXT);
    await dryRun(kms.send(new EncryptCommand({ KeyId: ALIAS, Plaintext: Buffer.from("x"), DryRun: true })));
    await dryRun(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: CONTEXT, DryRun: true })));
    await dryRun(kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, KeySpec: "AES_256", DryRun: true })));
    await dryRun(
      kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: main.keyId, NumberOfBytes: 8, DryRun: true })),
    );
    await dryRun(
      kms.send(new GenerateDataKeyPairCommand({ KeyId: main.keyId, KeyPairSpec: "ECC_NIST_P256", DryRun: true })),
    );
    await dryRun(
      kms.send(
        new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: main.keyId, KeyPairSpec: "RSA_2048", DryRun: true }),
      ),
    );
    await dryRun(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: blob,
          SourceEncryptionContext: CONTEXT,
          DestinationKeyId: other.keyId,
          DryRun: true,
        }),
      ),
    );
  });

  test("a dry run that would fail gives the real error", async () => {
    const blob = await encrypt(main.keyId, Buffer.from("dry"), CONTEXT);
    const tampered = flipBit(blob, blob.length - 1, 3);
    await rejectsWith(
      kms.send(new EncryptCommand({ KeyId: disabled.keyId, Plaintext: Buffer.from("x"), DryRun: true })),
      "DisabledException",
    );
    await rejectsWith(
      kms.send(new EncryptCommand({ KeyId: UNKNOWN_KEY_ID, Plaintext: Buffer.from("x"), DryRun: true })),
      "NotFoundException",
    );
    await rejectsWith(
      kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: CONTEXT, DryRun: true })),
      "InvalidCiphertextException",
    );
    await rejectsWith(
      kms.send(new DecryptCommand({ CiphertextBlob: blob, DryRun: true })),
      "InvalidCiphertextException",
    );
    await rejectsWith(
      kms.send(new DecryptCommand({ CiphertextBlob: disabledBlob, DryRun: true })),
      "DisabledException",
    );
    await rejectsWith(
      kms.send(
        new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: CONTEXT, KeyId: other.keyId, DryRun: true }),
      ),
      "IncorrectKeyException",
    );
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: disabled.arn, KeySpec: "AES_256", DryRun: true })),
      "DisabledException",
    );
    await rejectsWith(
      kms.send(
        new GenerateDataKeyWithoutPlaintextCommand({ KeyId: "alias/no-such-alias", KeySpec: "AES_256", DryRun: true }),
      ),
      "NotFoundException",
    );
    await rejectsWith(
      kms.send(
        new GenerateDataKeyPairCommand({ KeyId: pendingDeletion.keyId, KeyPairSpec: "ECC_NIST_P256", DryRun: true }),
      ),
      "KMSInvalidStateException",
    );
    await rejectsWith(
      kms.send(
        new GenerateDataKeyPairWithoutPlaintextCommand({
          KeyId: disabled.keyId,
          KeyPairSpec: "ECC_NIST_P256",
          DryRun: true,
        }),
      ),
      "DisabledException",
    );
    await rejectsWith(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: tampered,
          SourceEncryptionContext: CONTEXT,
          DestinationKeyId: other.keyId,
          DryRun: true,
        }),
      ),
      "InvalidCiphertextException",
    );
    await rejectsWith(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: blob,
          SourceEncryptionContext: CONTEXT,
          DestinationKeyId: disabled.keyId,
          DryRun: true,
        }),
      ),
      "DisabledException",
    );
    await rejectsWith(
      kms.send(new GenerateDataKeyCommand({ KeyId: main.keyId, NumberOfBytes: 0, DryRun: true })),
      "ValidationException",
    );
  });

  test("Decrypt with DryRunModifiers IGNORE_CIPHERTEXT checks only the key", async () => {
    await rejectsWith(
      kms.send(
        new DecryptCommand({
          KeyId: main.keyId,
          CiphertextBlob: randomBytes(64),
          DryRun: true,
          DryRunModifiers: ["IGNORE_CIPHERTEXT"],
        }),
      ),
      "DryRunOperationException",
      { status: 412 },
    );
    await rejectsWith(
      kms.send(new DecryptCommand({ KeyId: ALIAS, DryRun: true, DryRunModifiers: ["IGNORE_CIPHERTEXT"] })),
      "DryRunOperationException",
      { status: 412 },
    );
    await rejectsWith(
      kms.send(
        new DecryptCommand({
          KeyId: disabled.keyId,
          CiphertextBlob: randomBytes(64),
          DryRun: true,
          DryRunModifiers: ["IGNORE_CIPHERTEXT"],
        }),
      ),
      "DisabledException",
    );
  });

  test("ReEncrypt with DryRunModifiers IGNORE_CIPHERTEXT checks only the keys", async () => {
    await rejectsWith(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: randomBytes(64),
          SourceKeyId: main.keyId,
          DestinationKeyId: other.keyId,
          DryRun: true,
          DryRunModifiers: ["IGNORE_CIPHERTEXT"],
        }),
      ),
      "DryRunOperationException",
      { status: 412 },
    );
  });
});

describe("Key states", () => {
  /** Every crypto operation, aimed at `keyId` (a ciphertext of it where one is needed). */
  function everyCryptoOperation(keyId: string, blob: Uint8Array): Array<[string, () => Promise<unknown>]> {
    return [
      ["Encrypt", () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") }))],
      ["GenerateDataKey", () => kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256" }))],
      [
        "GenerateDataKeyWithoutPlaintext",
        () => kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: "AES_256" })),
      ],
      [
        "GenerateDataKeyPair",
        () => kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: "ECC_NIST_P256" })),
      ],
      [
        "GenerateDataKeyPairWithoutPlaintext",
        () => kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: "ECC_NIST_P256" })),
      ],
      ["Decrypt", () => kms.send(new DecryptCommand({ CiphertextBlob: blob }))],
      ["Decrypt with KeyId", () => kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: keyId }))],
      ["ReEncrypt from", () => kms.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: main.keyId }))],
      [
        "ReEncrypt to",
        () => kms.send(new ReEncryptCommand({ CiphertextBlob: encryptedByMain, DestinationKeyId: keyId })),
      ],
    ];
  }
  let encryptedByMain: Uint8Array;

  before(async () => {
    encryptedByMain = await encrypt(main.keyId, Buffer.from("from main"));
  });

  test("a disabled key: DisabledException '<ARN> is disabled.' for every crypto operation", async () => {
    for (const [operation, call] of everyCryptoOperation(disabled.keyId, disabledBlob)) {
      const error = await rejectsWith(call(), "DisabledException").catch((e: Error) => {
        throw new Error(`${operation}: ${e.message}`);
      });
      assert.equal(error.message, `${disabled.arn} is disabled.`, operation);
    }
  });

  test("a key pending deletion: KMSInvalidStateException '<ARN> is pending deletion.' for every crypto operation", async () => {
    for (const [operation, call] of everyCryptoOperation(pendingDeletion.arn, pendingDeletionBlob)) {
      const error = await rejectsWith(call(), "KMSInvalidStateException").catch((e: Error) => {
        throw new Error(`${operation}: ${e.message}`);
      });
      assert.equal(error.message, `${pendingDeletion.arn} is pending deletion.`, operation);
    }
  });

  test("an unknown key id, key ARN, alias name or alias ARN: NotFoundException", async () => {
    const unknownArn = main.arn.replace(main.keyId, UNKNOWN_KEY_ID);
    const unknownAliasArn = aliasArn.replace(ALIAS, "alias/no-such-alias");
    const expectations: Array<[string, string]> = [
      [UNKNOWN_KEY_ID, `Key '${unknownArn}' does not exist`],
      [unknownArn, `Key '${unknownArn}' does not exist`],
      ["alias/no-such-alias", `Alias ${unknownAliasArn} is not found.`],
      [unknownAliasArn, `Alias ${unknownAliasArn} is not found.`],
    ];
    for (const [keyId, message] of expectations) {
      for (const [operation, call] of everyCryptoOperation(keyId, encryptedByMain)) {
        // Without a KeyId these name the key through the ciphertext, which is main's.
        if (operation === "Decrypt" || operation === "ReEncrypt from") continue;
        await rejectsWith(call(), "NotFoundException", { message }).catch((e: Error) => {
          throw new Error(`${operation} ${keyId}: ${e.message}`);
        });
      }
    }
  });

  test("a ciphertext naming a key that does not exist: InvalidCiphertextException", async () => {
    const blob = Buffer.from(encryptedByMain);
    const keyIdLength = blob[2] as number;
    const keyIdAt = 3;
    assert.equal(blob.toString("ascii", keyIdAt, keyIdAt + keyIdLength), main.keyId);
    blob.write(UNKNOWN_KEY_ID, keyIdAt, "ascii");
    await rejectsWith(decrypt(blob), "InvalidCiphertextException");
  });
});

describe("SigV4 with the real SDK", () => {
  /** The body as the SDK would write it (newer SDKs give bytes that warn when treated as a string). */
  function bodyText(body: unknown): string {
    if (typeof body === "string") return body;
    const bytes = body as Uint8Array;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  }

  /** Signs a request with the SDK exactly as it would send it, without sending it. */
  async function signedBySdk(command: EncryptCommand): Promise<{ headers: Record<string, string>; body: string }> {
    let captured: { headers: Record<string, string>; body: string } | undefined;
    const capturing = new KMSClient({
      endpoint: trent.url,
      region: trent.region,
      credentials: trent.credentials,
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: HttpRequest) => {
          captured = {
            headers: { ...request.headers },
            body: bodyText(request.body),
          };
          throw new Error("captured");
        },
      } as never,
    });
    await assert.rejects(capturing.send(command), /captured/);
    capturing.destroy();
    assert.ok(captured);
    return captured;
  }

  function post(
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(trent.url, { method: "POST", headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
        );
      });
      request.on("error", reject);
      request.end(body);
    });
  }

  test("the SDK's signed request is accepted as sent", async () => {
    const signed = await signedBySdk(new EncryptCommand({ KeyId: main.keyId, Plaintext: Buffer.from("AAAA") }));
    const { status, json } = await post(signed.headers, signed.body);
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.KeyId, main.arn);
  });

  test("a signed SDK request whose body is changed in transit (same length) is rejected: InvalidSignatureException", async () => {
    const signed = await signedBySdk(new EncryptCommand({ KeyId: main.keyId, Plaintext: Buffer.from("AAAA") }));
    assert.ok("x-amz-content-sha256" in signed.headers, "the SDK sends x-amz-content-sha256");
    const forged = signed.body.replace(main.keyId, other.keyId);
    assert.notEqual(forged, signed.body);
    const { status, json } = await post(signed.headers, forged);
    assert.equal(json.__type, "InvalidSignatureException", `status ${status}: ${JSON.stringify(json)}`);
    assert.equal(status, 400);
  });
});

describe("AWS Encryption SDK for JavaScript", () => {
  test("encrypts and decrypts a message through Trent with a KMS keyring (commitment required)", async () => {
    const { encrypt: esdkEncrypt, decrypt: esdkDecrypt } = buildClient(
      CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    );
    // Under exactOptionalPropertyTypes the v3 KMS class does not match the ESDK's structural client type.
    const kmsClass = KMS as unknown as Parameters<typeof getClient>[0];
    const clientProvider = getClient(kmsClass, {
      endpoint: trent.url,
      region: trent.region,
      credentials: trent.credentials,
      maxAttempts: 1,
    });
    const keyring = new KmsKeyringNode({ generatorKeyId: main.arn, keyIds: [other.arn], clientProvider });
    const context = { stage: "demo", purpose: "esdk integration" };
    const message = randomBytes(10_000);
    const { result } = await esdkEncrypt(keyring, message, { encryptionContext: context });
    assert.notDeepEqual(result.subarray(0, 64), message.subarray(0, 64));
    const { plaintext, messageHeader } = await esdkDecrypt(keyring, result);
    assert.deepEqual(Buffer.from(plaintext), message);
    for (const [key, value] of Object.entries(context)) assert.equal(messageHeader.encryptionContext[key], value);
    const providers = messageHeader.encryptedDataKeys.map((edk) => edk.providerInfo).sort();
    assert.deepEqual(providers, [main.arn, other.arn].sort());

    // The other key alone can decrypt it too.
    const otherOnly = new KmsKeyringNode({ keyIds: [other.arn], clientProvider });
    assert.deepEqual(Buffer.from((await esdkDecrypt(otherOnly, result)).plaintext), message);
  });
});
