import assert from "node:assert/strict";
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { KeySpec, KeyUsageType, MacAlgorithmSpec } from "@aws-sdk/client-kms";
import { KmsError } from "../../src/domain/errors.js";
import type { Caller } from "../../src/domain/principal.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import { deriveSharedSecret } from "../../src/ops/derive-shared-secret.js";
import { disableKey } from "../../src/ops/disable-key.js";
import { generateMac } from "../../src/ops/generate-mac.js";
import { getPublicKey } from "../../src/ops/get-public-key.js";
import { verifyMac } from "../../src/ops/verify-mac.js";
import { openTestServices, type TestServices, testCaller, testKey } from "../support/services.js";

const ACCOUNT = "111122223333";
const CALLER: Caller = testCaller(ACCOUNT);
const arnOf = (keyId: string) => `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;

let fixture: TestServices;
const admin = (): OperationContext => ({ caller: CALLER, services: fixture.services, resources: [], grantTokens: [] });

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof KmsError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

async function newKey(KeySpec: KeySpec, KeyUsage: KeyUsageType): Promise<string> {
  return (await createKey(admin(), { KeySpec, KeyUsage })).KeyMetadata?.KeyId as string;
}

/** An HMAC key with chosen material, written straight to the store, to check against published vectors. */
async function hmacKeyWithMaterial(keySpec: KeySpec, material: Buffer): Promise<string> {
  const keyId = randomUUID();
  const wrapped = await fixture.services.backingKeys.create(keyId, 1, Buffer.from(material));
  await fixture.services.store.createKey(
    testKey({
      keyId,
      accountId: ACCOUNT,
      createdAt: new Date(),
      keySpec,
      keyUsage: "GENERATE_VERIFY_MAC",
      origin: "EXTERNAL",
    }),
    wrapped,
    [],
  );
  return keyId;
}

before(() => {
  fixture = openTestServices({ now: () => new Date() });
});
after(() => fixture.close());

// RFC 4231 test case 1: key 0x0b × 20, data "Hi There".
const RFC4231_KEY = Buffer.alloc(20, 0x0b);
const RFC4231_DATA = Buffer.from("Hi There");
const RFC4231: readonly [KeySpec, MacAlgorithmSpec, string][] = [
  ["HMAC_224", "HMAC_SHA_224", "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"],
  ["HMAC_256", "HMAC_SHA_256", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
  [
    "HMAC_384",
    "HMAC_SHA_384",
    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
  ],
  [
    "HMAC_512",
    "HMAC_SHA_512",
    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
  ],
];

describe("GenerateMac and VerifyMac", () => {
  for (const [keySpec, algorithm, expected] of RFC4231) {
    test(`${algorithm} matches RFC 4231 test case 1 and verifies`, async () => {
      const keyId = await hmacKeyWithMaterial(keySpec, RFC4231_KEY);
      const made = await generateMac(admin(), { KeyId: keyId, MacAlgorithm: algorithm, Message: RFC4231_DATA });
      assert.deepEqual(made, { Mac: Buffer.from(expected, "hex"), MacAlgorithm: algorithm, KeyId: arnOf(keyId) });
      const checked = await verifyMac(admin(), {
        KeyId: keyId,
        MacAlgorithm: algorithm,
        Message: RFC4231_DATA,
        Mac: made.Mac as Uint8Array,
      });
      assert.deepEqual(checked, { KeyId: arnOf(keyId), MacValid: true, MacAlgorithm: algorithm });
    });
  }

  test("a changed MAC, a changed message or a truncated MAC is KMSInvalidMacException", async () => {
    const keyId = await newKey("HMAC_256", "GENERATE_VERIFY_MAC");
    const message = Buffer.from("message");
    const mac = (await generateMac(admin(), { KeyId: keyId, MacAlgorithm: "HMAC_SHA_256", Message: message }))
      .Mac as Uint8Array;
    const flipped = Buffer.from(mac);
    flipped[31] = (flipped[31] as number) ^ 1;
    const invalid = "KMSInvalidMacException: The MAC is not valid for this message, KMS key and MAC algorithm.";
    const verify = (Message: Uint8Array, Mac: Uint8Array) =>
      failure(verifyMac(admin(), { KeyId: keyId, MacAlgorithm: "HMAC_SHA_256", Message, Mac }));
    assert.equal(await verify(message, flipped), invalid);
    assert.equal(await verify(Buffer.from("messagf"), mac), invalid);
    assert.equal(await verify(message, mac.subarray(0, 31)), invalid);
    assert.equal(await verify(message, Buffer.concat([mac, Buffer.of(0)])), invalid);
    assert.equal(await verify(message, mac), "ok");
  });

  test("a symmetric key, a mismatched algorithm, a disabled key and DryRun are refused", async () => {
    const symmetric = await newKey("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    const hmac = await newKey("HMAC_224", "GENERATE_VERIFY_MAC");
    const Message = Buffer.from("m");
    assert.equal(
      await failure(generateMac(admin(), { KeyId: symmetric, MacAlgorithm: "HMAC_SHA_256", Message })),
      `InvalidKeyUsageException: ${arnOf(symmetric)} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.`,
    );
    assert.equal(
      await failure(generateMac(admin(), { KeyId: hmac, MacAlgorithm: "HMAC_SHA_256", Message })),
      "InvalidKeyUsageException: Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.",
    );
    assert.match(
      await failure(generateMac(admin(), { KeyId: hmac, MacAlgorithm: "HMAC_SHA_224", Message, DryRun: true })),
      /^DryRunOperationException: /,
    );
    await disableKey(admin(), { KeyId: hmac });
    assert.match(
      await failure(verifyMac(admin(), { KeyId: hmac, MacAlgorithm: "HMAC_SHA_224", Message, Mac: Buffer.alloc(28) })),
      /^DisabledException: /,
    );
  });
});

const SM2_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex");

describe("DeriveSharedSecret", () => {
  for (const [keySpec, curve, length] of [
    ["ECC_NIST_P256", "prime256v1", 32],
    ["ECC_NIST_P384", "secp384r1", 48],
    ["ECC_NIST_P521", "secp521r1", 66],
  ] as const) {
    test(`${keySpec}: the raw ECDH secret equals the peer's own derivation`, async () => {
      const keyId = await newKey(keySpec, "KEY_AGREEMENT");
      const peer = generateKeyPairSync("ec", { namedCurve: curve });
      const answer = await deriveSharedSecret(admin(), {
        KeyId: keyId,
        KeyAgreementAlgorithm: "ECDH",
        PublicKey: peer.publicKey.export({ type: "spki", format: "der" }),
      });
      const kmsPublic = (await getPublicKey(admin(), { KeyId: keyId })).PublicKey as Uint8Array;
      const expected = diffieHellman({
        privateKey: peer.privateKey,
        publicKey: createPublicKey({ key: Buffer.from(kmsPublic), format: "der", type: "spki" }),
      });
      assert.equal(expected.length, length);
      assert.deepEqual(answer, {
        KeyId: arnOf(keyId),
        SharedSecret: expected,
        KeyAgreementAlgorithm: "ECDH",
        KeyOrigin: "AWS_KMS",
      });
    });
  }

  test("SM2: the raw ECDH secret equals the peer's own derivation, also from a compressed point", async () => {
    const keyId = await newKey("SM2", "KEY_AGREEMENT");
    const peer = createECDH("SM2");
    peer.generateKeys();
    const kmsPublic = Buffer.from((await getPublicKey(admin(), { KeyId: keyId })).PublicKey as Uint8Array);
    const expected = peer.computeSecret(kmsPublic.subarray(kmsPublic.length - 65));
    const derive = (PublicKey: Buffer) =>
      deriveSharedSecret(admin(), { KeyId: keyId, KeyAgreementAlgorithm: "ECDH", PublicKey });
    assert.deepEqual((await derive(Buffer.concat([SM2_SPKI_PREFIX, peer.getPublicKey()]))).SharedSecret, expected);
    const compressed = Buffer.from("3039301306072a8648ce3d020106082a811ccf5501822d032200", "hex");
    assert.deepEqual(
      (await derive(Buffer.concat([compressed, peer.getPublicKey(null, "compressed")]))).SharedSecret,
      expected,
    );
  });

  test("bad public keys, the wrong usage and DryRun are refused before deriving", async () => {
    const keyId = await newKey("ECC_NIST_P256", "KEY_AGREEMENT");
    const signing = await newKey("ECC_NIST_P256", "SIGN_VERIFY");
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
      type: "spki",
      format: "der",
    });
    const derive = (KeyId: string, PublicKey: Uint8Array, DryRun?: boolean) =>
      failure(deriveSharedSecret(admin(), { KeyId, KeyAgreementAlgorithm: "ECDH", PublicKey, DryRun }));
    const spkiOf = (key: ReturnType<typeof generateKeyPairSync>["publicKey"]) =>
      key.export({ type: "spki", format: "der" });

    assert.equal(
      await derive(keyId, spkiOf(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey)),
      "ValidationException: The public key is on curve P-384; the KMS key is on curve P-256.",
    );
    assert.equal(
      await derive(keyId, Buffer.concat([SM2_SPKI_PREFIX, Buffer.alloc(65, 4)])),
      "ValidationException: The public key is not a DER-encoded SubjectPublicKeyInfo.",
    );
    assert.equal(
      await derive(keyId, spkiOf(generateKeyPairSync("ed25519").publicKey)),
      "ValidationException: The public key is not an elliptic curve key.",
    );
    assert.equal(
      await derive(keyId, Buffer.from("not a key")),
      "ValidationException: The public key is not a DER-encoded SubjectPublicKeyInfo.",
    );
    assert.equal(
      await derive(keyId, Buffer.concat([p256, Buffer.of(0)])),
      "ValidationException: The public key is not a DER-encoded SubjectPublicKeyInfo.",
    );
    const offCurve = Buffer.from(p256);
    offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] as number) ^ 1;
    assert.equal(
      await derive(keyId, offCurve),
      "ValidationException: The public key is not a DER-encoded SubjectPublicKeyInfo.",
    );
    assert.equal(
      await derive(signing, p256),
      `InvalidKeyUsageException: ${arnOf(signing)} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.`,
    );
    assert.match(await derive(keyId, p256, true), /^DryRunOperationException: /);
    // A Recipient is verified before anything else; a document that is none is refused.
    assert.match(
      await failure(
        deriveSharedSecret(admin(), {
          KeyId: keyId,
          KeyAgreementAlgorithm: "ECDH",
          PublicKey: p256,
          Recipient: { KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_256", AttestationDocument: Buffer.of(1) },
        }),
      ),
      /^ValidationException: The Recipient's attestation document is not valid: /,
    );
  });
});
