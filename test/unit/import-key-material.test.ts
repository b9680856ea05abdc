import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { sm2 } from "sm-crypto-v2";
import { derTlv } from "../../src/crypto/der.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import { decrypt } from "../../src/ops/decrypt.js";
import { describeKey } from "../../src/ops/describe-key.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { expireImportedKeyMaterial } from "../../src/ops/expire-imported-key-material.js";
import { generateMac } from "../../src/ops/generate-mac.js";
import { getParametersForImport } from "../../src/ops/get-parameters-for-import.js";
import { getPublicKey } from "../../src/ops/get-public-key.js";
import { importKeyMaterial } from "../../src/ops/import-key-material.js";
import { listKeyRotations } from "../../src/ops/list-key-rotations.js";
import { auditView } from "../../src/protocol/aws/audit-parameters.js";
import { errorCode, openTestServices, type TestServices, testCaller } from "../support/services.js";

const HOUR = 3_600_000;
let fixture: TestServices;
let clock = new Date("2026-03-01T00:00:00Z");

const admin = (): OperationContext => ({
  caller: testCaller(),
  services: fixture.services,
  resources: [],
  grantTokens: [],
});

/** SM2 public-key encryption as a client does it: sm-crypto-v2's C1C3C2, DER-encoded (GM/T 0009). */
function sm2Wrap(spki: Uint8Array, plaintext: Buffer): Buffer {
  const point = Buffer.from(spki)
    .subarray(spki.length - 64)
    .toString("hex");
  const raw = Buffer.from(sm2.doEncrypt(plaintext, `04${point}`, 1), "hex");
  const integer = (bytes: Buffer) =>
    derTlv(0x02, (bytes[0] as number & 0x80) ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
  return derTlv(
    0x30,
    Buffer.concat([
      integer(raw.subarray(0, 32)),
      integer(raw.subarray(32, 64)),
      derTlv(0x04, raw.subarray(64, 96)),
      derTlv(0x04, raw.subarray(96)),
    ]),
  );
}

async function externalKey(fields: Record<string, string> = {}): Promise<string> {
  const created = await createKey(admin(), { Origin: "EXTERNAL", ...fields });
  return created.KeyMetadata?.KeyId as string;
}

async function importSm2(keyId: string, material: Buffer, extra: Record<string, unknown> = {}) {
  const params = await getParametersForImport(admin(), {
    KeyId: keyId,
    WrappingAlgorithm: "SM2PKE",
    WrappingKeySpec: "SM2",
  });
  return importKeyMaterial(admin(), {
    KeyId: keyId,
    ImportToken: params.ImportToken,
    EncryptedKeyMaterial: sm2Wrap(params.PublicKey as Uint8Array, material),
    ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    ...extra,
  });
}

before(() => {
  fixture = openTestServices({ now: () => clock });
});
after(async () => {
  await fixture.close();
});

describe("SM2PKE wrapping", () => {
  test("symmetric and HMAC material wrapped by SM2 encryption to the SM2 wrapping key is the key", async () => {
    const keyId = await externalKey();
    await importSm2(keyId, randomBytes(32));
    const sealed = await encrypt(admin(), { KeyId: keyId, Plaintext: Buffer.from("SM2-wrapped") });
    const opened = await decrypt(admin(), { CiphertextBlob: sealed.CiphertextBlob });
    assert.equal(Buffer.from(opened.Plaintext as Uint8Array).toString(), "SM2-wrapped");

    const hmacKey = await externalKey({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" });
    const material = randomBytes(32);
    await importSm2(hmacKey, material);
    const mac = await generateMac(admin(), { KeyId: hmacKey, Message: Buffer.from("m"), MacAlgorithm: "HMAC_SHA_256" });
    assert.deepEqual(Buffer.from(mac.Mac as Uint8Array), createHmac("sha256", material).update("m").digest());
  });

  test("an SM2 private key imported under SM2PKE is the key GetPublicKey shows", async () => {
    const pair = generateKeyPairSync("ec", { namedCurve: "SM2" });
    const keyId = await externalKey({ KeySpec: "SM2", KeyUsage: "SIGN_VERIFY" });
    await importSm2(keyId, pair.privateKey.export({ type: "pkcs8", format: "der" }));
    const shown = await getPublicKey(admin(), { KeyId: keyId });
    assert.deepEqual(
      Buffer.from(shown.PublicKey as Uint8Array),
      pair.publicKey.export({ type: "spki", format: "der" }),
    );
  });
});

describe("time", () => {
  test("an import token is refused 24 hours after GetParametersForImport", async () => {
    const keyId = await externalKey();
    const params = await getParametersForImport(admin(), {
      KeyId: keyId,
      WrappingAlgorithm: "SM2PKE",
      WrappingKeySpec: "SM2",
    });
    const saved = clock;
    clock = new Date(saved.getTime() + 24 * HOUR);
    try {
      const encrypted = sm2Wrap(params.PublicKey as Uint8Array, randomBytes(32));
      const call = importKeyMaterial(admin(), {
        KeyId: keyId,
        ImportToken: params.ImportToken,
        EncryptedKeyMaterial: encrypted,
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      });
      assert.equal(await errorCode(call), "ExpiredImportTokenException");
    } finally {
      clock = saved;
    }
  });

  test("material past its ValidTo is unusable at once and deleted by the sweep; the same material restores it", async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    await importSm2(keyId, material, {
      ExpirationModel: "KEY_MATERIAL_EXPIRES",
      ValidTo: new Date(clock.getTime() + HOUR),
    });
    const sealed = await encrypt(admin(), { KeyId: keyId, Plaintext: Buffer.from("until then") });
    const saved = clock;
    clock = new Date(saved.getTime() + 2 * HOUR);
    try {
      assert.equal((await describeKey(admin(), { KeyId: keyId })).KeyMetadata?.KeyState, "PendingImport");
      assert.equal(
        await errorCode(decrypt(admin(), { CiphertextBlob: sealed.CiphertextBlob })),
        "KMSInvalidStateException",
      );
      assert.ok((await expireImportedKeyMaterial(fixture.services)) >= 1);
      const listed = await listKeyRotations(admin(), { KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" });
      assert.deepEqual(
        listed.Rotations?.map((entry) => [entry.ImportState, entry.KeyMaterialState]),
        [["PENDING_IMPORT", "CURRENT"]],
      );
      await importSm2(keyId, material);
      const opened = await decrypt(admin(), { CiphertextBlob: sealed.CiphertextBlob });
      assert.equal(Buffer.from(opened.Plaintext as Uint8Array).toString(), "until then");
    } finally {
      clock = saved;
    }
  });
});

test("the audit record of ImportKeyMaterial has neither the wrapped material nor the token itself", () => {
  const hash = (value: Uint8Array | string) => `hmac:${Buffer.from(value).length}`;
  const view = auditView(
    "ImportKeyMaterialRequest",
    {
      KeyId: "k",
      ImportToken: Buffer.alloc(300, 1),
      EncryptedKeyMaterial: Buffer.alloc(256, 2),
      ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    },
    hash,
  );
  assert.deepEqual(view, { keyId: "k", importToken: "hmac:300", expirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE" });
  const response = auditView("GetParametersForImportResponse", { KeyId: "k", PublicKey: Buffer.alloc(294) }, hash);
  assert.deepEqual(response, { keyId: "k" });
});
