import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { type AsymmetricKeyDetails, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { Worker } from "node:worker_threads";
import {
  DATA_KEY_PAIR_SPECS,
  type DataKeyPairSpec,
  type DerKeyPair,
  generateKeyPairDer,
} from "../../src/crypto/data-key-pair-spec.js";
import { KeyPairPool } from "../../src/crypto/key-pair-pool.js";

interface Expected {
  keyType?: string;
  details?: AsymmetricKeyDetails;
  digest: string | null;
}

const EXPECTED: Record<DataKeyPairSpec, Expected> = {
  RSA_2048: { keyType: "rsa", details: { modulusLength: 2048, publicExponent: 65537n }, digest: "sha256" },
  RSA_3072: { keyType: "rsa", details: { modulusLength: 3072, publicExponent: 65537n }, digest: "sha256" },
  RSA_4096: { keyType: "rsa", details: { modulusLength: 4096, publicExponent: 65537n }, digest: "sha256" },
  ECC_NIST_P256: { keyType: "ec", details: { namedCurve: "prime256v1" }, digest: "sha256" },
  ECC_NIST_P384: { keyType: "ec", details: { namedCurve: "secp384r1" }, digest: "sha256" },
  ECC_NIST_P521: { keyType: "ec", details: { namedCurve: "secp521r1" }, digest: "sha256" },
  ECC_SECG_P256K1: { keyType: "ec", details: { namedCurve: "secp256k1" }, digest: "sha256" },
  // Node 20 reports no key type or details for SM2 keys (checked from the DER below), and OpenSSL
  // signs SM2 only with SM3.
  SM2: { digest: "sm3" },
  ECC_NIST_EDWARDS25519: { keyType: "ed25519", details: {}, digest: null },
};

// AlgorithmIdentifier { id-ecPublicKey (1.2.840.10045.2.1), sm2 (1.2.156.10197.1.301) }
const SM2_ALGORITHM_IDENTIFIER = Buffer.from("301306072a8648ce3d020106082a811ccf5501822d", "hex");

const execFileAsync = promisify(execFile);

const NO_POOLING = Object.fromEntries(DATA_KEY_PAIR_SPECS.map((spec) => [spec, 0])) as Record<DataKeyPairSpec, number>;

function poolWith(depth: Partial<Record<DataKeyPairSpec, number>>, workers = 1): KeyPairPool {
  const pool = new KeyPairPool({ depth: { ...NO_POOLING, ...depth }, workers });
  pool.start();
  return pool;
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 20_000; !condition(); await sleep(20)) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the pool");
  }
}

function assertWellFormedPair(spec: DataKeyPairSpec, pair: DerKeyPair): void {
  const expected = EXPECTED[spec];
  const publicKey = createPublicKey({ key: pair.publicKey, format: "der", type: "spki" });
  const privateKey = createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" });
  assert.equal(publicKey.asymmetricKeyType, expected.keyType);
  assert.equal(privateKey.asymmetricKeyType, expected.keyType);
  if (expected.details) assert.deepEqual(publicKey.asymmetricKeyDetails, expected.details);
  assert.deepEqual(createPublicKey(privateKey).export({ type: "spki", format: "der" }), pair.publicKey);
  const message = Buffer.from(`GenerateDataKeyPair ${spec}`);
  assert.ok(verify(expected.digest, message, publicKey, sign(expected.digest, message, privateKey)));
}

describe("every data key pair spec", { concurrency: true }, () => {
  let pool: KeyPairPool;
  before(async () => {
    pool = poolWith(Object.fromEntries(DATA_KEY_PAIR_SPECS.map((spec) => [spec, 1])), 2);
    await waitUntil(() => DATA_KEY_PAIR_SPECS.every((spec) => pool.available(spec) === 1));
  });
  after(() => pool.close());

  for (const spec of DATA_KEY_PAIR_SPECS) {
    test(`${spec}: pooled (worker) and on-demand (generateKeyPairDer) pairs are distinct, matching SPKI/PKCS#8`, async () => {
      const pooled = pool.take(spec);
      assert.equal(pool.available(spec), 0);
      const onDemand = pool.take(spec);
      const [worker, direct] = await Promise.all([pooled, onDemand]);
      assertWellFormedPair(spec, worker);
      assertWellFormedPair(spec, direct);
      assert.notDeepEqual(worker.publicKey, direct.publicKey);
      assert.notDeepEqual(worker.privateKey, direct.privateKey);
      const message = Buffer.from("not yours");
      const signature = sign(
        EXPECTED[spec].digest,
        message,
        createPrivateKey({ key: direct.privateKey, format: "der", type: "pkcs8" }),
      );
      assert.equal(
        verify(
          EXPECTED[spec].digest,
          message,
          createPublicKey({ key: worker.publicKey, format: "der", type: "spki" }),
          signature,
        ),
        false,
      );
    });
  }
});

test("SM2 keys carry the sm2 curve OID 1.2.156.10197.1.301 under id-ecPublicKey, as AWS KMS returns", async () => {
  const { publicKey, privateKey } = await generateKeyPairDer("SM2");
  assert.deepEqual(publicKey.subarray(2, 2 + SM2_ALGORITHM_IDENTIFIER.length), SM2_ALGORITHM_IDENTIFIER);
  assert.ok(privateKey.includes(SM2_ALGORITHM_IDENTIFIER));
});

test("a pooled pair is handed out exactly once and the pool refills to its depth", async () => {
  const pool = poolWith({ ECC_NIST_P256: 2 });
  try {
    await waitUntil(() => pool.available("ECC_NIST_P256") === 2);
    const first = pool.take("ECC_NIST_P256");
    const second = pool.take("ECC_NIST_P256");
    assert.equal(pool.available("ECC_NIST_P256"), 0);
    const taken = await Promise.all([first, second]);
    await waitUntil(() => pool.available("ECC_NIST_P256") === 2);
    const refilled = await Promise.all([pool.take("ECC_NIST_P256"), pool.take("ECC_NIST_P256")]);
    const publicKeys = new Set([...taken, ...refilled].map((pair) => pair.publicKey.toString("hex")));
    assert.equal(publicKeys.size, 4);
  } finally {
    await pool.close();
  }
});

test("a spec with depth 0 is generated on demand and never pooled", async () => {
  const pool = poolWith({ ECC_NIST_P256: 1 });
  try {
    assertWellFormedPair("ECC_NIST_P384", await pool.take("ECC_NIST_P384"));
    assert.equal(pool.available("ECC_NIST_P384"), 0);
  } finally {
    await pool.close();
  }
});

test("RSA_4096 is served from a warm pool", async () => {
  const pool = poolWith({ RSA_4096: 1 });
  try {
    await waitUntil(() => pool.available("RSA_4096") === 1);
    const pending = pool.take("RSA_4096");
    assert.equal(pool.available("RSA_4096"), 0);
    assertWellFormedPair("RSA_4096", await pending);
  } finally {
    await pool.close();
  }
});

test("on-demand requests do not wait for a background refill", async () => {
  const pool = poolWith({ RSA_4096: 1 });
  try {
    // The single worker is busy refilling RSA_4096 (seconds); the EC request finds its (depth 0)
    // pool empty and is generated at once, long before the refill can finish.
    const [ecc, edwards] = await Promise.all([pool.take("ECC_NIST_P256"), pool.take("ECC_NIST_EDWARDS25519")]);
    assert.equal(pool.available("RSA_4096"), 0);
    assertWellFormedPair("ECC_NIST_P256", ecc);
    assertWellFormedPair("ECC_NIST_EDWARDS25519", edwards);
  } finally {
    await pool.close();
  }
});

test("refill workers do not keep the process alive", async () => {
  const script = `
    import { KeyPairPool } from ${JSON.stringify(new URL("../../src/crypto/key-pair-pool.js", import.meta.url).href)};
    const pool = new KeyPairPool({ depth: ${JSON.stringify({ ...NO_POOLING, RSA_4096: 3 })}, workers: 1 });
    pool.start();
    await pool.take("ECC_NIST_P256");
    process.on("exit", () => console.log(pool.available("RSA_4096")));`;
  // A file, not `node -e`: under -e the process exited even with ref'd workers.
  const dir = await mkdtemp(join(tmpdir(), "key-pair-pool-"));
  try {
    const file = join(dir, "main.mjs");
    await writeFile(file, script);
    const { stdout } = await execFileAsync(process.execPath, [file], { timeout: 20_000 });
    assert.ok(Number(stdout) < 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a refill worker crash is replaced and its refill redone", async () => {
  const pool = poolWith({ RSA_3072: 1 });
  try {
    const slots = (pool as unknown as { slots: Set<{ worker: Worker; spec?: DataKeyPairSpec }> }).slots;
    const [slot] = slots;
    assert.equal(slot?.spec, "RSA_3072");
    await slot.worker.terminate();
    await waitUntil(() => pool.available("RSA_3072") === 1);
    assert.equal(slots.size, 1);
    assert.ok(!slots.has(slot));
    assertWellFormedPair("RSA_3072", await pool.take("RSA_3072"));
  } finally {
    await pool.close();
  }
});

test("close zero-fills pooled private keys and later requests reject", async () => {
  const pool = poolWith({ ECC_NIST_P256: 1 });
  await waitUntil(() => pool.available("ECC_NIST_P256") === 1);
  const [pooled] = (pool as unknown as { pairs: Record<DataKeyPairSpec, DerKeyPair[]> }).pairs.ECC_NIST_P256;
  assert.ok(pooled);
  await pool.close();
  assert.ok(pooled.privateKey.every((byte) => byte === 0));
  assert.equal(pool.available("ECC_NIST_P256"), 0);
  await assert.rejects(pool.take("ECC_NIST_P256"), /closed/);
});
