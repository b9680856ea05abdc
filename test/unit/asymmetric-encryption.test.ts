import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { KeySpec } from "@aws-sdk/client-kms";
import {
  AsymmetricCiphertextError,
  type AsymmetricEncryptionAlgorithm,
  decrypt,
  encrypt,
  isAsymmetricEncryptionAlgorithm,
  maxPlaintextBytes,
} from "../../src/crypto/asymmetric-encryption.js";
import { type AsymmetricKey, asymmetricKeyFrom, generateKeyMaterial } from "../../src/crypto/key-material.js";

// OpenSSL's command line is the independent implementation: it encrypts what Trent decrypts and
// decrypts what Trent encrypts, from the same PKCS#8 and SPKI files a KMS user would have.
const work = mkdtempSync(join(tmpdir(), "trent-asymmetric-encryption-"));
after(() => rmSync(work, { recursive: true, force: true }));

let files = 0;
function file(contents: Uint8Array): string {
  const path = join(work, `f${files++}`);
  writeFileSync(path, contents);
  return path;
}

function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

function oaepOptions(algorithm: AsymmetricEncryptionAlgorithm): string[] {
  if (algorithm === "SM2PKE") return [];
  const hash = algorithm === "RSAES_OAEP_SHA_1" ? "sha1" : "sha256";
  return ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", `rsa_oaep_md:${hash}`, "-pkeyopt", `rsa_mgf1_md:${hash}`];
}

function opensslEncrypt(spki: Buffer, algorithm: AsymmetricEncryptionAlgorithm, plaintext: Buffer): Buffer {
  return openssl([
    "pkeyutl",
    "-encrypt",
    "-pubin",
    "-keyform",
    "DER",
    "-inkey",
    file(spki),
    ...oaepOptions(algorithm),
    "-in",
    file(plaintext),
  ]);
}

function opensslDecrypt(pkcs8: Buffer, algorithm: AsymmetricEncryptionAlgorithm, ciphertext: Buffer): Buffer {
  return openssl([
    "pkeyutl",
    "-decrypt",
    "-keyform",
    "DER",
    "-inkey",
    file(pkcs8),
    ...oaepOptions(algorithm),
    "-in",
    file(ciphertext),
  ]);
}

interface TestKey {
  readonly spec: KeySpec;
  readonly pkcs8: Buffer;
  readonly key: AsymmetricKey;
}

async function newKey(spec: KeySpec): Promise<TestKey> {
  const pkcs8 = await generateKeyMaterial(spec);
  return { spec, pkcs8, key: asymmetricKeyFrom(spec, pkcs8) };
}

function flipped(blob: Buffer, byte: number): Buffer {
  const copy = Buffer.from(blob);
  copy[byte] = (copy[byte] as number) ^ 0x01;
  return copy;
}

const CASES: ReadonlyArray<{ spec: KeySpec; algorithm: AsymmetricEncryptionAlgorithm; max: number }> = [
  { spec: "RSA_2048", algorithm: "RSAES_OAEP_SHA_1", max: 214 },
  { spec: "RSA_2048", algorithm: "RSAES_OAEP_SHA_256", max: 190 },
  { spec: "RSA_3072", algorithm: "RSAES_OAEP_SHA_1", max: 342 },
  { spec: "RSA_3072", algorithm: "RSAES_OAEP_SHA_256", max: 318 },
  { spec: "RSA_4096", algorithm: "RSAES_OAEP_SHA_1", max: 470 },
  { spec: "RSA_4096", algorithm: "RSAES_OAEP_SHA_256", max: 446 },
  { spec: "SM2", algorithm: "SM2PKE", max: 1024 },
];

describe("asymmetric encryption", async () => {
  const keys = new Map<KeySpec, TestKey>();
  for (const spec of ["RSA_2048", "RSA_3072", "RSA_4096", "SM2"] as const) keys.set(spec, await newKey(spec));
  const keyOf = (spec: KeySpec) => keys.get(spec) as TestKey;

  test("the plaintext limits are AWS's table (k − 2·hLen − 2 for OAEP, 1024 bytes for SM2PKE)", () => {
    for (const { spec, algorithm, max } of CASES) assert.equal(maxPlaintextBytes(spec, algorithm), max, spec);
  });

  test("only the three key-pair algorithms count as asymmetric", () => {
    assert.equal(isAsymmetricEncryptionAlgorithm("RSAES_OAEP_SHA_1"), true);
    assert.equal(isAsymmetricEncryptionAlgorithm("RSAES_OAEP_SHA_256"), true);
    assert.equal(isAsymmetricEncryptionAlgorithm("SM2PKE"), true);
    assert.equal(isAsymmetricEncryptionAlgorithm("SYMMETRIC_DEFAULT"), false);
    assert.equal(isAsymmetricEncryptionAlgorithm(undefined), false);
  });

  for (const { spec, algorithm, max } of CASES) {
    test(`${spec} ${algorithm}: OpenSSL decrypts Trent's ciphertext of the largest plaintext`, () => {
      const { key, pkcs8 } = keyOf(spec);
      const plaintext = Buffer.alloc(max, 0xa5);
      const ciphertext = encrypt(key, spec, algorithm, plaintext);
      if (spec !== "SM2") assert.equal(ciphertext.length, Number(spec.slice(4)) / 8);
      assert.deepEqual(opensslDecrypt(pkcs8, algorithm, ciphertext), plaintext);
    });

    test(`${spec} ${algorithm}: Trent decrypts OpenSSL's ciphertext made with the public key`, () => {
      const { key } = keyOf(spec);
      const plaintext = Buffer.from(`made by openssl for ${spec} ${algorithm}`);
      const ciphertext = opensslEncrypt(key.spki, algorithm, plaintext);
      assert.deepEqual(decrypt(key, spec, algorithm, ciphertext), plaintext);
    });

    test(`${spec} ${algorithm}: one more byte than the limit is refused`, () => {
      const { key } = keyOf(spec);
      assert.throws(() => encrypt(key, spec, algorithm, Buffer.alloc(max + 1)), RangeError);
    });

    test(`${spec} ${algorithm}: a flipped bit anywhere fails to decrypt`, () => {
      const { key } = keyOf(spec);
      const ciphertext = encrypt(key, spec, algorithm, Buffer.from("sixteen bytes!!!"));
      for (const byte of [0, Math.floor(ciphertext.length / 2), ciphertext.length - 1]) {
        assert.throws(() => decrypt(key, spec, algorithm, flipped(ciphertext, byte)), AsymmetricCiphertextError);
      }
    });
  }

  test("a ciphertext made under another key of the same spec does not decrypt", async () => {
    const other = await newKey("RSA_2048");
    const ciphertext = encrypt(other.key, "RSA_2048", "RSAES_OAEP_SHA_256", Buffer.from("x"));
    assert.throws(
      () => decrypt(keyOf("RSA_2048").key, "RSA_2048", "RSAES_OAEP_SHA_256", ciphertext),
      AsymmetricCiphertextError,
    );
    const sm2 = await newKey("SM2");
    const sm2Ciphertext = encrypt(sm2.key, "SM2", "SM2PKE", Buffer.from("x"));
    assert.throws(() => decrypt(keyOf("SM2").key, "SM2", "SM2PKE", sm2Ciphertext), AsymmetricCiphertextError);
  });

  test("an OAEP ciphertext does not decrypt under the other hash", () => {
    const { key } = keyOf("RSA_3072");
    const sha1 = encrypt(key, "RSA_3072", "RSAES_OAEP_SHA_1", Buffer.from("x"));
    assert.throws(() => decrypt(key, "RSA_3072", "RSAES_OAEP_SHA_256", sha1), AsymmetricCiphertextError);
    const sha256 = encrypt(key, "RSA_3072", "RSAES_OAEP_SHA_256", Buffer.from("x"));
    assert.throws(() => decrypt(key, "RSA_3072", "RSAES_OAEP_SHA_1", sha256), AsymmetricCiphertextError);
  });

  test("SM2PKE ciphertext is DER SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3(32), OCTET STRING C2 }", () => {
    const { key } = keyOf("SM2");
    const plaintext = Buffer.from("structure check");
    const ciphertext = encrypt(key, "SM2", "SM2PKE", plaintext);
    const parsed = openssl(["asn1parse", "-inform", "DER", "-in", file(ciphertext)]).toString();
    const lines = parsed.trim().split("\n");
    assert.match(lines[0] as string, /d=0 .*cons: SEQUENCE/);
    assert.match(lines[1] as string, /d=1 .*prim: INTEGER/);
    assert.match(lines[2] as string, /d=1 .*prim: INTEGER/);
    assert.match(lines[3] as string, /d=1 .*l= {2}32 prim: OCTET STRING/);
    assert.match(lines[4] as string, new RegExp(`d=1 .*l= +${plaintext.length} prim: OCTET STRING`));
    assert.equal(lines.length, 5);
  });

  test("SM2PKE refuses trailing bytes, truncation, a wrong tag and a point off the curve", () => {
    const { key } = keyOf("SM2");
    const ciphertext = encrypt(key, "SM2", "SM2PKE", Buffer.alloc(40, 0x5a)); // 128–255 content bytes
    const cases: Buffer[] = [
      Buffer.concat([ciphertext, Buffer.of(0)]),
      ciphertext.subarray(0, ciphertext.length - 1),
      Buffer.concat([Buffer.of(0x31), ciphertext.subarray(1)]),
      Buffer.alloc(0),
    ];
    // 30 81 LL | 02 xLen x | 02 yLen y | …: flipping y's last bit takes the point (x, y) off the curve.
    assert.equal(ciphertext[1], 0x81);
    const yTag = 5 + (ciphertext[4] as number);
    assert.equal(ciphertext[yTag], 0x02);
    cases.push(flipped(ciphertext, yTag + 1 + (ciphertext[yTag + 1] as number)));
    for (const bad of cases) assert.throws(() => decrypt(key, "SM2", "SM2PKE", bad), AsymmetricCiphertextError);
  });

  test("SM2PKE encryption is randomized", () => {
    const { key } = keyOf("SM2");
    const plaintext = Buffer.from("same message");
    assert.notDeepEqual(encrypt(key, "SM2", "SM2PKE", plaintext), encrypt(key, "SM2", "SM2PKE", plaintext));
  });

  test("an algorithm the key spec cannot use is a programming error, not a ciphertext error", () => {
    assert.throws(() => encrypt(keyOf("SM2").key, "SM2", "RSAES_OAEP_SHA_256", Buffer.from("x")), /cannot use SM2/);
    assert.throws(() => decrypt(keyOf("RSA_2048").key, "RSA_2048", "SM2PKE", Buffer.from("x")), /cannot use RSA_2048/);
  });
});
