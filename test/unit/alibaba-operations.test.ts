import assert from "node:assert/strict";
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  verify as nodeVerify,
  publicEncrypt,
} from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { KeySpec, KeyUsageType } from "@aws-sdk/client-kms";
import { keyMaterialId } from "../../src/domain/key.js";
import type { Caller } from "../../src/domain/principal.js";
import { ALIBABA_OPERATIONS } from "../../src/ops/alibaba/index.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createAlias } from "../../src/ops/create-alias.js";
import { createKey } from "../../src/ops/create-key.js";
import { decrypt as awsDecrypt } from "../../src/ops/decrypt.js";
import { disableKey } from "../../src/ops/disable-key.js";
import { encrypt as awsEncrypt } from "../../src/ops/encrypt.js";
import { generateMac } from "../../src/ops/generate-mac.js";
import { rotateKeyOnDemand } from "../../src/ops/rotate-key-on-demand.js";
import { errorCode, openTestServices, type TestServices, testCaller } from "../support/services.js";

const ACCOUNT = "111122223333";
const CALLER: Caller = { ...testCaller(ACCOUNT), secureTransport: true };
const AAD = Buffer.from("tenant=blue");
const PLAINTEXT = Buffer.from("Alibaba's SDK, Trent's keys");

let fixture: TestServices;
const contextOf = (): OperationContext => ({
  caller: CALLER,
  services: fixture.services,
  resources: [],
  grantTokens: [],
});

/** Calls an operation by its x-kms-apiname, as the edge does. */
function call(apiName: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const operation = ALIBABA_OPERATIONS[apiName];
  assert.ok(operation, `no operation ${apiName}`);
  return operation(contextOf(), input);
}

async function newKey(KeySpec?: KeySpec, KeyUsage?: KeyUsageType): Promise<string> {
  const input = KeySpec === undefined ? {} : { KeySpec, KeyUsage };
  return (await createKey(contextOf(), input)).KeyMetadata?.KeyId as string;
}

const rotate = (keyId: string) => rotateKeyOnDemand(contextOf(), { KeyId: keyId });
const bytes = (value: unknown): Buffer => {
  assert.ok(value instanceof Uint8Array, "expected bytes");
  return Buffer.from(value);
};

before(() => {
  fixture = openTestServices({ now: () => new Date("2026-03-01T00:00:00Z") });
});
after(() => fixture.close());

test("the table holds every operation of api.proto except GetSecretValue", () => {
  assert.deepEqual(Object.keys(ALIBABA_OPERATIONS).sort(), [
    "AdvanceDecrypt",
    "AdvanceEncrypt",
    "AdvanceGenerateDataKey",
    "AdvanceGenerateDataKeyPair",
    "AdvanceGenerateDataKeyPairWithoutPlaintext",
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateRandom",
    "GetPublicKey",
    "Hmac",
    "Sign",
    "Verify",
  ]);
});

describe("Encrypt and Decrypt", () => {
  test("round trip with a generated 12-byte Iv and Aad, by key id, ARN and alias", async () => {
    const keyId = await newKey();
    await createAlias(contextOf(), { AliasName: "alias/ali-enc", TargetKeyId: keyId });
    const arn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;
    for (const name of [keyId, arn, "alias/ali-enc"]) {
      const sealed = await call("Encrypt", { KeyId: name, Plaintext: PLAINTEXT, Aad: AAD });
      assert.equal(sealed.KeyId, keyId);
      assert.equal(sealed.Algorithm, "AES_GCM");
      assert.equal(bytes(sealed.Iv).length, 12);
      assert.ok(!bytes(sealed.CiphertextBlob).includes(PLAINTEXT));
      const opened = await call("Decrypt", {
        KeyId: name,
        CiphertextBlob: sealed.CiphertextBlob,
        Iv: sealed.Iv,
        Aad: AAD,
        Algorithm: "AES_GCM",
      });
      assert.deepEqual(bytes(opened.Plaintext), PLAINTEXT);
      assert.equal(opened.KeyId, keyId);
    }
  });

  test("a caller's Iv is used and returned; a 16-byte Iv or another algorithm is refused", async () => {
    const keyId = await newKey();
    const iv = Buffer.alloc(12, 7);
    const sealed = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Iv: iv });
    assert.deepEqual(bytes(sealed.Iv), iv);
    const opened = await call("Decrypt", { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob, Iv: iv });
    assert.deepEqual(bytes(opened.Plaintext), PLAINTEXT);
    // The same Iv twice still gives unrelated ciphertexts: each has its own derived key.
    const again = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Iv: iv });
    assert.notDeepEqual(bytes(again.CiphertextBlob), bytes(sealed.CiphertextBlob));
    assert.equal(
      await errorCode(call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Iv: Buffer.alloc(16) })),
      "ValidationException",
    );
    assert.equal(
      await errorCode(call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Algorithm: "AES_CBC" })),
      "ValidationException",
    );
    assert.equal(
      await errorCode(call("Decrypt", { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob, Iv: Buffer.alloc(16) })),
      "ValidationException",
    );
    assert.equal(
      await errorCode(call("Decrypt", { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob })),
      "ValidationException",
    );
  });

  test("a wrong Aad, Iv, key or tampered blob is InvalidCiphertextException", async () => {
    const keyId = await newKey();
    const other = await newKey();
    const sealed = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Aad: AAD });
    const base = { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob, Iv: sealed.Iv, Aad: AAD };
    const wrongIv = Buffer.from(bytes(sealed.Iv));
    wrongIv[0] = (wrongIv[0] as number) ^ 1;
    const tampered = Buffer.from(bytes(sealed.CiphertextBlob));
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    for (const change of [
      { Aad: Buffer.from("tenant=red") },
      { Aad: undefined },
      { Iv: wrongIv },
      { KeyId: other },
      { CiphertextBlob: tampered },
      { CiphertextBlob: Buffer.alloc(20) },
    ]) {
      assert.equal(await errorCode(call("Decrypt", { ...base, ...change })), "InvalidCiphertextException");
    }
  });

  test("Decrypt opens ciphertexts from before a rotation, and new ones use the new version", async () => {
    const keyId = await newKey();
    const before = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Aad: AAD });
    await rotate(keyId);
    const afterRotation = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Aad: AAD });
    for (const sealed of [before, afterRotation]) {
      const opened = await call("Decrypt", {
        KeyId: keyId,
        CiphertextBlob: sealed.CiphertextBlob,
        Iv: sealed.Iv,
        Aad: AAD,
      });
      assert.deepEqual(bytes(opened.Plaintext), PLAINTEXT);
    }
    // AdvanceDecrypt opens Encrypt's ciphertexts too, given their KeyId and Iv, and names the version.
    const advance = await call("AdvanceDecrypt", {
      KeyId: keyId,
      CiphertextBlob: before.CiphertextBlob,
      Iv: before.Iv,
      Aad: AAD,
    });
    assert.deepEqual(bytes(advance.Plaintext), PLAINTEXT);
    assert.equal(advance.KeyVersionId, keyMaterialId(keyId, 1));
  });

  test("asymmetric Encrypt (RSAES_OAEP_SHA_256) opens what node encrypted with GetPublicKey's PEM", async () => {
    const keyId = await newKey("RSA_2048", "ENCRYPT_DECRYPT");
    const { PublicKey } = await call("GetPublicKey", { KeyId: keyId });
    const ciphertext = publicEncrypt(
      { key: PublicKey as string, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      PLAINTEXT,
    );
    const opened = await call("Decrypt", { KeyId: keyId, CiphertextBlob: ciphertext, Algorithm: "RSAES_OAEP_SHA_256" });
    assert.deepEqual(bytes(opened.Plaintext), PLAINTEXT);
    const sealed = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Algorithm: "RSAES_OAEP_SHA_256" });
    const again = await call("Decrypt", {
      KeyId: keyId,
      CiphertextBlob: sealed.CiphertextBlob,
      Algorithm: "RSAES_OAEP_SHA_256",
    });
    assert.deepEqual(bytes(again.Plaintext), PLAINTEXT);
    assert.equal(await errorCode(call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT })), "InvalidKeyUsageException");
  });

  test("a disabled key is refused", async () => {
    const keyId = await newKey();
    const sealed = await call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT });
    await disableKey(contextOf(), { KeyId: keyId });
    assert.equal(await errorCode(call("Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT })), "DisabledException");
    assert.equal(
      await errorCode(call("Decrypt", { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob, Iv: sealed.Iv })),
      "DisabledException",
    );
    assert.equal(await errorCode(call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT })), "DisabledException");
    assert.equal(await errorCode(call("GenerateDataKey", { KeyId: keyId })), "DisabledException");
  });

  test("an unknown key is NotFoundException; a missing KeyId or Plaintext is ValidationException", async () => {
    assert.equal(
      await errorCode(call("Encrypt", { KeyId: "alias/nobody", Plaintext: PLAINTEXT })),
      "NotFoundException",
    );
    assert.equal(await errorCode(call("Encrypt", { KeyId: "", Plaintext: PLAINTEXT })), "ValidationException");
    assert.equal(await errorCode(call("Encrypt", { KeyId: await newKey() })), "ValidationException");
  });
});

describe("AdvanceEncrypt and AdvanceDecrypt", () => {
  test("AdvanceDecrypt opens from the blob alone after 3 rotations, naming the version", async () => {
    const keyId = await newKey();
    const sealed = await call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Aad: AAD });
    assert.equal(sealed.KeyVersionId, keyMaterialId(keyId, 1));
    assert.equal(bytes(sealed.Iv).length, 12);
    assert.equal(sealed.Algorithm, "AES_GCM");
    for (let i = 0; i < 3; i++) await rotate(keyId);
    const opened = await call("AdvanceDecrypt", { CiphertextBlob: sealed.CiphertextBlob, Aad: AAD });
    assert.deepEqual(bytes(opened.Plaintext), PLAINTEXT);
    assert.equal(opened.KeyId, keyId);
    assert.equal(opened.KeyVersionId, keyMaterialId(keyId, 1));
    const fresh = await call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT });
    assert.equal(fresh.KeyVersionId, keyMaterialId(keyId, 4));
    // The Iv it returned, passed back as SDK users do, changes nothing.
    const withIv = await call("AdvanceDecrypt", {
      KeyId: keyId,
      CiphertextBlob: sealed.CiphertextBlob,
      Iv: sealed.Iv,
      Aad: AAD,
    });
    assert.deepEqual(bytes(withIv.Plaintext), PLAINTEXT);
  });

  test("a wrong Aad or another KeyId fails; Advance and AWS ciphertexts do not open on the other edge", async () => {
    const keyId = await newKey();
    const sealed = await call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Aad: AAD });
    assert.equal(
      await errorCode(call("AdvanceDecrypt", { CiphertextBlob: sealed.CiphertextBlob, Aad: Buffer.from("x") })),
      "InvalidCiphertextException",
    );
    assert.equal(
      await errorCode(
        call("AdvanceDecrypt", { CiphertextBlob: sealed.CiphertextBlob, Aad: AAD, Iv: Buffer.alloc(12) }),
      ),
      "InvalidCiphertextException",
    );
    assert.equal(
      await errorCode(
        call("AdvanceDecrypt", { KeyId: await newKey(), CiphertextBlob: sealed.CiphertextBlob, Aad: AAD }),
      ),
      "IncorrectKeyException",
    );
    const unbound = await call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT });
    assert.equal(
      await errorCode(awsDecrypt(contextOf(), { CiphertextBlob: bytes(unbound.CiphertextBlob) })),
      "InvalidCiphertextException",
    );
    const aws = await awsEncrypt(contextOf(), { KeyId: keyId, Plaintext: PLAINTEXT });
    assert.equal(
      await errorCode(call("AdvanceDecrypt", { CiphertextBlob: aws.CiphertextBlob })),
      "InvalidCiphertextException",
    );
    assert.equal(
      await errorCode(call("AdvanceEncrypt", { KeyId: keyId, Plaintext: PLAINTEXT, Iv: Buffer.alloc(12) })),
      "ValidationException",
    );
  });
});

describe("data keys", () => {
  test("GenerateDataKey: 32 bytes by default, NumberOfBytes 1–1024, opened by Decrypt with its Iv", async () => {
    const keyId = await newKey();
    const made = await call("GenerateDataKey", { KeyId: keyId, Aad: AAD });
    assert.equal(bytes(made.Plaintext).length, 32);
    assert.equal(made.Algorithm, "AES_GCM");
    const opened = await call("Decrypt", { KeyId: keyId, CiphertextBlob: made.CiphertextBlob, Iv: made.Iv, Aad: AAD });
    assert.deepEqual(bytes(opened.Plaintext), bytes(made.Plaintext));
    assert.equal(bytes((await call("GenerateDataKey", { KeyId: keyId, NumberOfBytes: 1024 })).Plaintext).length, 1024);
    assert.equal(
      await errorCode(call("GenerateDataKey", { KeyId: keyId, NumberOfBytes: 1025 })),
      "ValidationException",
    );
    assert.equal(await errorCode(call("GenerateDataKey", { KeyId: keyId, NumberOfBytes: -1 })), "ValidationException");
  });

  test("AdvanceGenerateDataKey: opened by AdvanceDecrypt from the blob after a rotation", async () => {
    const keyId = await newKey();
    const made = await call("AdvanceGenerateDataKey", { KeyId: keyId, NumberOfBytes: 16, Aad: AAD });
    assert.equal(bytes(made.Plaintext).length, 16);
    assert.equal(made.KeyVersionId, keyMaterialId(keyId, 1));
    await rotate(keyId);
    const opened = await call("AdvanceDecrypt", { CiphertextBlob: made.CiphertextBlob, Aad: AAD });
    assert.deepEqual(bytes(opened.Plaintext), bytes(made.Plaintext));
  });
});

/** The SPKI DER of a public key in either format, and of the public half of a private key in either format. */
function spkiOfPublic(value: Buffer, format: "PEM" | "DER"): Buffer {
  const key =
    format === "PEM"
      ? createPublicKey(value.toString("ascii"))
      : createPublicKey({ key: value, format: "der", type: "spki" });
  return key.export({ type: "spki", format: "der" });
}
function spkiOfPrivate(value: Buffer, format: "PEM" | "DER"): Buffer {
  const key =
    format === "PEM"
      ? createPrivateKey(value.toString("ascii"))
      : createPrivateKey({ key: value, format: "der", type: "pkcs8" });
  return createPublicKey(key).export({ type: "spki", format: "der" });
}

describe("data key pairs", () => {
  const cases = [
    ["RSA_2048", "PEM"],
    ["EC_P256", "DER"],
    ["EC_P256K", "PEM"],
    ["RSA_3072", "DER"],
  ] as const;
  for (const [spec, format] of cases) {
    test(`GenerateDataKeyPair ${spec} ${format}: Decrypt gives the private key that matches PublicKey`, async () => {
      const keyId = await newKey();
      const made = await call("GenerateDataKeyPair", { KeyId: keyId, KeyPairSpec: spec, KeyFormat: format, Aad: AAD });
      assert.equal(made.KeyPairSpec, spec);
      assert.equal(made.Algorithm, "AES_GCM");
      const publicKey = bytes(made.PublicKey);
      if (format === "PEM") {
        assert.ok(publicKey.toString("ascii").startsWith("-----BEGIN PUBLIC KEY-----\n"));
        assert.ok(bytes(made.PrivateKeyPlaintext).toString("ascii").startsWith("-----BEGIN PRIVATE KEY-----\n"));
      } else {
        assert.equal(publicKey[0], 0x30);
      }
      const opened = await call("Decrypt", {
        KeyId: keyId,
        CiphertextBlob: made.PrivateKeyCiphertextBlob,
        Iv: made.Iv,
        Aad: AAD,
      });
      assert.deepEqual(bytes(opened.Plaintext), bytes(made.PrivateKeyPlaintext));
      assert.deepEqual(spkiOfPrivate(bytes(opened.Plaintext), format), spkiOfPublic(publicKey, format));
    });
  }

  test("PEM is the default format; GenerateDataKeyPairWithoutPlaintext leaves the private key out", async () => {
    const keyId = await newKey();
    const made = await call("GenerateDataKeyPairWithoutPlaintext", { KeyId: keyId, KeyPairSpec: "EC_P256", Aad: AAD });
    assert.equal(made.PrivateKeyPlaintext, undefined);
    assert.deepEqual(Object.keys(made).sort(), [
      "Algorithm",
      "Iv",
      "KeyId",
      "KeyPairSpec",
      "PrivateKeyCiphertextBlob",
      "PublicKey",
    ]);
    const opened = await call("Decrypt", {
      KeyId: keyId,
      CiphertextBlob: made.PrivateKeyCiphertextBlob,
      Iv: made.Iv,
      Aad: AAD,
    });
    assert.deepEqual(spkiOfPrivate(bytes(opened.Plaintext), "PEM"), spkiOfPublic(bytes(made.PublicKey), "PEM"));
  });

  for (const format of ["PEM", "DER"] as const) {
    test(`AdvanceGenerateDataKeyPair(WithoutPlaintext) ${format}: AdvanceDecrypt after rotations gives the matching private key`, async () => {
      const keyId = await newKey();
      const made = await call("AdvanceGenerateDataKeyPair", {
        KeyId: keyId,
        KeyPairSpec: "EC_P256",
        KeyFormat: format,
        Aad: AAD,
      });
      assert.equal(made.KeyVersionId, keyMaterialId(keyId, 1));
      const hidden = await call("AdvanceGenerateDataKeyPairWithoutPlaintext", {
        KeyId: keyId,
        KeyPairSpec: "RSA_2048",
        KeyFormat: format,
      });
      assert.equal(hidden.PrivateKeyPlaintext, undefined);
      assert.equal(typeof hidden.KeyVersionId, "string");
      await rotate(keyId);
      await rotate(keyId);
      const opened = await call("AdvanceDecrypt", { CiphertextBlob: made.PrivateKeyCiphertextBlob, Aad: AAD });
      assert.deepEqual(bytes(opened.Plaintext), bytes(made.PrivateKeyPlaintext));
      assert.deepEqual(spkiOfPrivate(bytes(opened.Plaintext), format), spkiOfPublic(bytes(made.PublicKey), format));
      const openedHidden = await call("AdvanceDecrypt", { CiphertextBlob: hidden.PrivateKeyCiphertextBlob });
      assert.deepEqual(
        spkiOfPrivate(bytes(openedHidden.Plaintext), format),
        spkiOfPublic(bytes(hidden.PublicKey), format),
      );
    });
  }

  test("an unknown KeyPairSpec or KeyFormat is ValidationException", async () => {
    const keyId = await newKey();
    assert.equal(
      await errorCode(call("GenerateDataKeyPair", { KeyId: keyId, KeyPairSpec: "ECC_NIST_P256" })),
      "ValidationException",
    );
    assert.equal(
      await errorCode(call("GenerateDataKeyPair", { KeyId: keyId, KeyPairSpec: "RSA_2048", KeyFormat: "JWK" })),
      "ValidationException",
    );
    assert.equal(await errorCode(call("GenerateDataKeyPair", { KeyId: keyId })), "ValidationException");
  });
});

describe("GenerateRandom, GetPublicKey, Sign, Verify, Hmac", () => {
  test("GenerateRandom returns Length bytes; Length must be 1–1024", async () => {
    const { Random } = await call("GenerateRandom", { Length: 48 });
    assert.equal(bytes(Random).length, 48);
    assert.equal(await errorCode(call("GenerateRandom", {})), "ValidationException");
    assert.equal(await errorCode(call("GenerateRandom", { Length: 1025 })), "ValidationException");
  });

  const signingCases = [
    ["RSA_2048", "RSA_PSS_SHA_256"],
    ["RSA_2048", "RSA_PKCS1_SHA_256"],
    ["ECC_NIST_P256", "ECDSA_SHA_256"],
    ["ECC_SECG_P256K1", "ECDSA_SHA_256"],
  ] as const;
  for (const [spec, algorithm] of signingCases) {
    test(`Sign ${spec} ${algorithm}: node verifies with GetPublicKey's PEM; Verify says true, then false`, async () => {
      const keyId = await newKey(spec, "SIGN_VERIFY");
      const { PublicKey, KeyId } = await call("GetPublicKey", { KeyId: keyId });
      assert.equal(KeyId, keyId);
      assert.ok((PublicKey as string).startsWith("-----BEGIN PUBLIC KEY-----\n"));
      const padding = algorithm.startsWith("RSA_PSS")
        ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : {};
      const raw = await call("Sign", { KeyId: keyId, Algorithm: algorithm, Message: PLAINTEXT });
      assert.equal(raw.Algorithm, algorithm);
      assert.equal(raw.MessageType, "RAW");
      assert.ok(nodeVerify("sha256", PLAINTEXT, { key: PublicKey as string, ...padding }, bytes(raw.Signature)));
      const digest = createHash("sha256").update(PLAINTEXT).digest();
      const overDigest = await call("Sign", {
        KeyId: keyId,
        Algorithm: algorithm,
        Message: digest,
        MessageType: "DIGEST",
      });
      assert.ok(nodeVerify("sha256", PLAINTEXT, { key: PublicKey as string, ...padding }, bytes(overDigest.Signature)));
      const verified = await call("Verify", {
        KeyId: keyId,
        Algorithm: algorithm,
        Message: PLAINTEXT,
        Signature: raw.Signature,
      });
      assert.equal(verified.Value, true);
      assert.equal(verified.KeyId, keyId);
      const rejected = await call("Verify", {
        KeyId: keyId,
        Algorithm: algorithm,
        Message: Buffer.from("another message"),
        Signature: raw.Signature,
      });
      assert.equal(rejected.Value, false);
    });
  }

  test("SM2DSA signs and verifies; a wrong algorithm for the key is InvalidKeyUsageException", async () => {
    const keyId = await newKey("SM2", "SIGN_VERIFY");
    const signed = await call("Sign", { KeyId: keyId, Algorithm: "SM2DSA", Message: PLAINTEXT });
    const verified = await call("Verify", {
      KeyId: keyId,
      Algorithm: "SM2DSA",
      Message: PLAINTEXT,
      Signature: signed.Signature,
    });
    assert.equal(verified.Value, true);
    assert.equal(
      await errorCode(call("Sign", { KeyId: keyId, Algorithm: "ECDSA_SHA_256", Message: PLAINTEXT })),
      "InvalidKeyUsageException",
    );
    assert.equal(
      await errorCode(call("Sign", { KeyId: keyId, Algorithm: "RSASSA_PSS_SHA_256", Message: PLAINTEXT })),
      "ValidationException",
    );
  });

  test("a disabled signing key is refused by Sign and GetPublicKey", async () => {
    const keyId = await newKey("ECC_NIST_P256", "SIGN_VERIFY");
    await disableKey(contextOf(), { KeyId: keyId });
    assert.equal(
      await errorCode(call("Sign", { KeyId: keyId, Algorithm: "ECDSA_SHA_256", Message: PLAINTEXT })),
      "DisabledException",
    );
    assert.equal(await errorCode(call("GetPublicKey", { KeyId: keyId })), "DisabledException");
  });

  test("Hmac equals the AWS edge's GenerateMac under the key's own algorithm; non-HMAC keys are refused", async () => {
    for (const spec of ["HMAC_256", "HMAC_512"] as const) {
      const keyId = await newKey(spec, "GENERATE_VERIFY_MAC");
      const { Signature, KeyId } = await call("Hmac", { KeyId: keyId, Message: PLAINTEXT });
      assert.equal(KeyId, keyId);
      const algorithm = spec === "HMAC_256" ? "HMAC_SHA_256" : "HMAC_SHA_512";
      const aws = await generateMac(contextOf(), { KeyId: keyId, MacAlgorithm: algorithm, Message: PLAINTEXT });
      assert.deepEqual(bytes(Signature), bytes(aws.Mac));
      assert.equal(bytes(Signature).length, spec === "HMAC_256" ? 32 : 64);
    }
    assert.equal(
      await errorCode(call("Hmac", { KeyId: await newKey(), Message: PLAINTEXT })),
      "InvalidKeyUsageException",
    );
  });
});
