import assert from "node:assert/strict";
import { constants, createHash, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { describe, test } from "node:test";
import type { KeySpec, MessageType, SigningAlgorithmSpec } from "@aws-sdk/client-kms";
import { shake256 } from "@noble/hashes/sha3.js";
import { type AsymmetricKey, asymmetricKeyFrom, generateKeyMaterial } from "../../src/crypto/key-material.js";
import { requireMessageType, sign, verify } from "../../src/crypto/signing.js";
import { ValidationException } from "../../src/domain/errors.js";
import { keyAlgorithms } from "../../src/domain/key-specs.js";

const MESSAGE = Buffer.from("Sign me, Trent. Twice if you must.");
const keys = new Map<KeySpec, AsymmetricKey>();

async function keyOf(spec: KeySpec): Promise<AsymmetricKey> {
  let key = keys.get(spec);
  if (key === undefined) {
    key = asymmetricKeyFrom(spec, await generateKeyMaterial(spec));
    keys.set(spec, key);
  }
  return key;
}

function nodePair(key: AsymmetricKey) {
  assert.equal(key.kind, "node");
  return key;
}

function flipped(bytes: Buffer, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = (copy[index] as number) ^ 0x01;
  return copy;
}

const HASHES = { 256: "sha256", 384: "sha384", 512: "sha512" } as const;
const hashOf = (algorithm: string) => HASHES[Number(algorithm.slice(-3)) as 256 | 384 | 512];

/** Node's own verification, independent of the manual padding in signing.ts. */
function nodeVerifies(key: AsymmetricKey, algorithm: string, signature: Buffer): boolean {
  const { publicKey } = nodePair(key);
  const padding = algorithm.startsWith("RSASSA_PSS")
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : {};
  return nodeVerify(hashOf(algorithm), MESSAGE, { key: publicKey, ...padding }, signature);
}

const RSA_AND_ECDSA: [KeySpec, SigningAlgorithmSpec][] = [
  ...(keyAlgorithms("RSA_2048", "SIGN_VERIFY").signing ?? []).map((a): [KeySpec, SigningAlgorithmSpec] => [
    "RSA_2048",
    a,
  ]),
  ["ECC_NIST_P256", "ECDSA_SHA_256"],
  ["ECC_NIST_P384", "ECDSA_SHA_384"],
  ["ECC_NIST_P521", "ECDSA_SHA_512"],
  ["ECC_SECG_P256K1", "ECDSA_SHA_256"],
];

describe("RSA and ECDSA", () => {
  for (const [spec, algorithm] of RSA_AND_ECDSA) {
    test(`${spec} ${algorithm}: RAW and DIGEST signatures both verify with Node over the message`, async () => {
      const key = await keyOf(spec);
      const digest = createHash(hashOf(algorithm)).update(MESSAGE).digest();
      const raw = sign(key, spec, algorithm, "RAW", MESSAGE);
      const overDigest = sign(key, spec, algorithm, "DIGEST", digest);
      assert.ok(nodeVerifies(key, algorithm, raw));
      assert.ok(nodeVerifies(key, algorithm, overDigest));
      for (const signature of [raw, overDigest]) {
        assert.ok(verify(key, spec, algorithm, "RAW", MESSAGE, signature));
        assert.ok(verify(key, spec, algorithm, "DIGEST", digest, signature));
        assert.equal(verify(key, spec, algorithm, "RAW", Buffer.from("another message"), signature), false);
        assert.equal(verify(key, spec, algorithm, "RAW", MESSAGE, flipped(signature, signature.length - 1)), false);
      }
    });

    test(`${spec} ${algorithm}: accepts a signature Node made`, async () => {
      const key = await keyOf(spec);
      const { privateKey } = nodePair(key);
      const padding = algorithm.startsWith("RSASSA_PSS")
        ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : {};
      const signature = nodeSign(hashOf(algorithm), MESSAGE, { key: privateKey, ...padding });
      assert.ok(verify(key, spec, algorithm, "RAW", MESSAGE, signature));
    });
  }

  test("PKCS#1 v1.5 signatures are deterministic and equal Node's", async () => {
    const key = await keyOf("RSA_2048");
    const signature = sign(key, "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384", "RAW", MESSAGE);
    assert.deepEqual(signature, nodeSign("sha384", MESSAGE, nodePair(key).privateKey));
  });

  test("PSS uses a salt as long as the digest, freshly drawn for each signature", async () => {
    const key = await keyOf("RSA_2048");
    const { publicKey, privateKey } = nodePair(key);
    for (const [algorithm, bytes] of [
      ["RSASSA_PSS_SHA_256", 32],
      ["RSASSA_PSS_SHA_512", 64],
    ] as const) {
      const signature = sign(key, "RSA_2048", algorithm, "RAW", MESSAGE);
      const withSalt = (saltLength: number) =>
        nodeVerify(
          hashOf(algorithm),
          MESSAGE,
          { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
          signature,
        );
      assert.ok(withSalt(bytes));
      assert.equal(withSalt(bytes + 1), false);
      assert.notDeepEqual(signature, sign(key, "RSA_2048", algorithm, "RAW", MESSAGE));
    }
    // Node's default PSS salt is the maximum length: such a signature is not KMS's PSS.
    const maxSalt = nodeSign("sha256", MESSAGE, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING });
    assert.equal(verify(key, "RSA_2048", "RSASSA_PSS_SHA_256", "RAW", MESSAGE, maxSalt), false);
  });

  test("malformed signature bytes are invalid, not an error", async () => {
    for (const [spec, algorithm] of RSA_AND_ECDSA) {
      const key = await keyOf(spec);
      for (const bytes of [Buffer.of(0), Buffer.alloc(256, 0xff), Buffer.alloc(6144, 7)]) {
        assert.equal(verify(key, spec, algorithm, "RAW", MESSAGE, bytes), false, `${spec} ${algorithm}`);
      }
    }
  });

  test("a high-S ECDSA signature is valid, as in KMS", async () => {
    const key = await keyOf("ECC_SECG_P256K1");
    const { secp256k1 } = await import("@noble/curves/secp256k1.js");
    const signature = secp256k1.Signature.fromBytes(
      sign(key, "ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", MESSAGE),
      "der",
    );
    const other = new secp256k1.Signature(signature.r, secp256k1.Point.CURVE().n - signature.s);
    const otherBytes = Buffer.from(other.toBytes("der"));
    assert.ok(nodeVerifies(key, "ECDSA_SHA_256", otherBytes));
    assert.ok(verify(key, "ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", MESSAGE, otherBytes));
  });
});

describe("Ed25519", () => {
  test("ED25519_SHA_512 is pure Ed25519, as Node signs it", async () => {
    const key = await keyOf("ECC_NIST_EDWARDS25519");
    const signature = sign(key, "ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", MESSAGE);
    assert.equal(signature.length, 64);
    assert.deepEqual(signature, nodeSign(null, MESSAGE, nodePair(key).privateKey));
    assert.ok(verify(key, "ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", MESSAGE, signature));
    assert.equal(verify(key, "ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", MESSAGE, flipped(signature, 3)), false);
  });

  test("ED25519_PH_SHA_512 signs the caller's 64-byte digest as Ed25519ph's message", async () => {
    const key = await keyOf("ECC_NIST_EDWARDS25519");
    const digest = createHash("sha512").update(MESSAGE).digest();
    const signature = sign(key, "ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", digest);
    assert.equal(signature.length, 64);
    assert.ok(verify(key, "ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", digest, signature));
    assert.equal(
      verify(key, "ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", flipped(digest, 0), signature),
      false,
    );
    // Not a plain Ed25519 signature of the digest.
    assert.equal(nodeVerify(null, digest, nodePair(key).publicKey, signature), false);
  });
});

describe("SM2DSA", () => {
  /** Z_A of GM/T 0003 with the default ID, computed here from the curve constants and the SPKI. */
  function sm2Z(spki: Buffer): Buffer {
    const id = Buffer.from("1234567812345678");
    const curve = Buffer.from(
      "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC" +
        "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93" +
        "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7" +
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
      "hex",
    );
    const point = spki.subarray(spki.length - 64);
    return createHash("sm3").update(Buffer.of(0x00, 0x80)).update(id).update(curve).update(point).digest();
  }

  test("a RAW signature is over SM3(Z ‖ M), so it verifies as a DIGEST of that hash", async () => {
    const key = await keyOf("SM2");
    const e = createHash("sm3").update(sm2Z(key.spki)).update(MESSAGE).digest();
    const raw = sign(key, "SM2", "SM2DSA", "RAW", MESSAGE);
    assert.equal(raw[0], 0x30);
    assert.ok(verify(key, "SM2", "SM2DSA", "DIGEST", e, raw));
    const overDigest = sign(key, "SM2", "SM2DSA", "DIGEST", e);
    assert.ok(verify(key, "SM2", "SM2DSA", "RAW", MESSAGE, overDigest));
    assert.equal(verify(key, "SM2", "SM2DSA", "RAW", Buffer.from("other"), overDigest), false);
    assert.equal(verify(key, "SM2", "SM2DSA", "RAW", MESSAGE, flipped(raw, raw.length - 2)), false);
    assert.equal(verify(key, "SM2", "SM2DSA", "RAW", MESSAGE, Buffer.of(0x30, 0x00)), false);
  });
});

describe("ML-DSA", () => {
  for (const [spec, bytes] of [
    ["ML_DSA_44", 2420],
    ["ML_DSA_65", 3309],
    ["ML_DSA_87", 4627],
  ] as const) {
    test(`${spec}: an EXTERNAL_MU signature equals the RAW one`, async () => {
      const key = await keyOf(spec);
      assert.equal(key.kind, "ml-dsa");
      if (key.kind !== "ml-dsa") return;
      const tr = shake256(key.publicKey, { dkLen: 64 });
      const mu = shake256(Buffer.concat([tr, Buffer.of(0, 0), MESSAGE]), { dkLen: 64 });
      const raw = sign(key, spec, "ML_DSA_SHAKE_256", "RAW", MESSAGE);
      assert.equal(raw.length, bytes);
      assert.deepEqual(sign(key, spec, "ML_DSA_SHAKE_256", "EXTERNAL_MU", mu), raw);
      assert.ok(verify(key, spec, "ML_DSA_SHAKE_256", "RAW", MESSAGE, raw));
      assert.ok(verify(key, spec, "ML_DSA_SHAKE_256", "EXTERNAL_MU", mu, raw));
      assert.equal(verify(key, spec, "ML_DSA_SHAKE_256", "RAW", MESSAGE, flipped(raw, 100)), false);
      assert.equal(verify(key, spec, "ML_DSA_SHAKE_256", "RAW", MESSAGE, raw.subarray(1)), false);
    });
  }
});

describe("message types", () => {
  const refused = (
    spec: KeySpec,
    algorithm: SigningAlgorithmSpec,
    type: MessageType,
    length: number,
    message: string,
  ) =>
    test(`${algorithm} ${type} of ${length} bytes: ${message}`, () => {
      assert.throws(
        () => requireMessageType(spec, algorithm, type, Buffer.alloc(length)),
        (error) => error instanceof ValidationException && error.message === message,
      );
    });
  refused("RSA_2048", "RSASSA_PSS_SHA_384", "DIGEST", 32, "Digest is invalid length for algorithm RSASSA_PSS_SHA_384.");
  refused("ECC_NIST_P256", "ECDSA_SHA_256", "DIGEST", 33, "Digest is invalid length for algorithm ECDSA_SHA_256.");
  refused("SM2", "SM2DSA", "DIGEST", 64, "Digest is invalid length for algorithm SM2DSA.");
  refused(
    "ECC_NIST_EDWARDS25519",
    "ED25519_SHA_512",
    "DIGEST",
    64,
    "Message type DIGEST is incompatible with algorithm ED25519_SHA_512.",
  );
  refused(
    "ECC_NIST_EDWARDS25519",
    "ED25519_PH_SHA_512",
    "RAW",
    64,
    "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512.",
  );
  refused(
    "ECC_NIST_EDWARDS25519",
    "ED25519_PH_SHA_512",
    "DIGEST",
    32,
    "Digest is invalid length for algorithm ED25519_PH_SHA_512.",
  );
  refused(
    "ML_DSA_65",
    "ML_DSA_SHAKE_256",
    "DIGEST",
    64,
    "Message type DIGEST is incompatible with key spec ML_DSA_65.",
  );
  refused(
    "ML_DSA_44",
    "ML_DSA_SHAKE_256",
    "EXTERNAL_MU",
    32,
    "Digest is invalid length for algorithm ML_DSA_SHAKE_256.",
  );
  refused(
    "RSA_2048",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "EXTERNAL_MU",
    64,
    "Message type EXTERNAL_MU is incompatible with algorithm RSASSA_PKCS1_V1_5_SHA_256.",
  );

  test("RAW messages of any length are accepted", () => {
    requireMessageType("RSA_2048", "RSASSA_PSS_SHA_256", "RAW", Buffer.alloc(4096));
    requireMessageType("ML_DSA_44", "ML_DSA_SHAKE_256", "RAW", Buffer.alloc(1));
  });
});
