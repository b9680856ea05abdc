import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { DiscardingAuditSink } from "../../src/audit/audit-sink.js";
import { BackingKeys } from "../../src/crypto/backing-keys.js";
import { generateKeyPairDer } from "../../src/crypto/data-key-pair-spec.js";
import { KmsError } from "../../src/domain/errors.js";
import type { KmsKey } from "../../src/domain/key.js";
import type { Caller } from "../../src/domain/principal.js";
import { cancelKeyDeletion } from "../../src/ops/cancel-key-deletion.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import { decrypt } from "../../src/ops/decrypt.js";
import { describeKey } from "../../src/ops/describe-key.js";
import { disableKey } from "../../src/ops/disable-key.js";
import { disableKeyRotation } from "../../src/ops/disable-key-rotation.js";
import { enableKey } from "../../src/ops/enable-key.js";
import { enableKeyRotation } from "../../src/ops/enable-key-rotation.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { getKeyRotationStatus } from "../../src/ops/get-key-rotation-status.js";
import { listKeyRotations } from "../../src/ops/list-key-rotations.js";
import { reEncrypt } from "../../src/ops/re-encrypt.js";
import { rotateDueKeys } from "../../src/ops/rotate-due-keys.js";
import { MAX_ON_DEMAND_ROTATIONS, rotateKeyOnDemand } from "../../src/ops/rotate-key-on-demand.js";
import { scheduleKeyDeletion } from "../../src/ops/schedule-key-deletion.js";
import { AccountBoundaryAuthorizer } from "../../src/policy/authorizer.js";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { CachingKeyStore } from "../../src/store/caching-store.js";
import { PostgresKeyStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { KeyStore } from "../../src/store/store.js";
import { PostgresNotInstalledError, startPostgres } from "../support/postgres-server.js";
import { openTestServices, type TestServices, testCaller, testKey } from "../support/services.js";

const DAY = 86_400_000;
const ACCOUNT = "111122223333";
const CALLER: Caller = testCaller(ACCOUNT);

let fixture: TestServices;
let clock = new Date("2026-01-01T00:00:00Z");

function contextOf(services: Services): OperationContext {
  return { caller: CALLER, services, resources: [], grantTokens: [] };
}
const admin = () => contextOf(fixture.services);

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof KmsError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

async function newKeyId(): Promise<string> {
  return (await createKey(admin(), {})).KeyMetadata?.KeyId as string;
}

async function currentMaterialId(keyId: string): Promise<string> {
  return (await describeKey(admin(), { KeyId: keyId })).KeyMetadata?.CurrentKeyMaterialId as string;
}

/** A key written straight to the store, for kinds CreateKey does not make yet. */
async function storedKey(fields: Partial<KmsKey>): Promise<string> {
  const keyId = randomUUID();
  await fixture.services.store.createKey(
    testKey({ keyId, accountId: ACCOUNT, createdAt: clock, ...fields }),
    randomBytes(60),
    [],
  );
  return keyId;
}

before(() => {
  fixture = openTestServices({ now: () => clock });
});
after(() => fixture.close());

describe("rotation schedule", () => {
  test("EnableKeyRotation sets the period (365 days by default) and the first date one period on", async () => {
    const keyId = await newKeyId();
    assert.deepEqual(await getKeyRotationStatus(admin(), { KeyId: keyId }), {
      KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
      KeyRotationEnabled: false,
    });
    await enableKeyRotation(admin(), { KeyId: keyId });
    const status = await getKeyRotationStatus(admin(), { KeyId: keyId });
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 365);
    assert.deepEqual(status.NextRotationDate, new Date(clock.getTime() + 365 * DAY));
    assert.equal(status.OnDemandRotationStartDate, undefined);

    await enableKeyRotation(admin(), { KeyId: keyId, RotationPeriodInDays: 90 });
    const changed = await getKeyRotationStatus(admin(), { KeyId: keyId });
    assert.equal(changed.RotationPeriodInDays, 90);
    assert.deepEqual(changed.NextRotationDate, new Date(clock.getTime() + 90 * DAY));

    await disableKeyRotation(admin(), { KeyId: keyId });
    const off = await getKeyRotationStatus(admin(), { KeyId: keyId });
    assert.equal(off.KeyRotationEnabled, false);
    assert.equal(off.RotationPeriodInDays, undefined);
    assert.equal(off.NextRotationDate, undefined);
  });

  test("a disabled key keeps its schedule; management calls on it are refused as AWS refuses them", async () => {
    const keyId = await newKeyId();
    const arn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;
    await enableKeyRotation(admin(), { KeyId: keyId, RotationPeriodInDays: 100 });
    await disableKey(admin(), { KeyId: keyId });
    const status = await getKeyRotationStatus(admin(), { KeyId: keyId });
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 100);
    const disabled = `DisabledException: ${arn} is disabled.`;
    assert.equal(await failure(enableKeyRotation(admin(), { KeyId: keyId })), disabled);
    assert.equal(await failure(disableKeyRotation(admin(), { KeyId: keyId })), disabled);
    assert.equal(await failure(rotateKeyOnDemand(admin(), { KeyId: keyId })), disabled);
  });

  test("a key pending deletion reports rotation off, never rotates, and gets its schedule back when cancelled", async () => {
    const keyId = await newKeyId();
    const arn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;
    await enableKeyRotation(admin(), { KeyId: keyId, RotationPeriodInDays: 90 });
    await scheduleKeyDeletion(admin(), { KeyId: keyId, PendingWindowInDays: 30 });
    assert.equal((await getKeyRotationStatus(admin(), { KeyId: keyId })).KeyRotationEnabled, false);
    const pending = `KMSInvalidStateException: ${arn} is pending deletion.`;
    assert.equal(await failure(enableKeyRotation(admin(), { KeyId: keyId })), pending);
    assert.equal(await failure(rotateKeyOnDemand(admin(), { KeyId: keyId })), pending);

    const saved = clock;
    clock = new Date(saved.getTime() + 91 * DAY); // due, but pending deletion
    try {
      const before = await currentMaterialId(keyId);
      await rotateDueKeys(fixture.services);
      assert.equal(await currentMaterialId(keyId), before);
      await cancelKeyDeletion(admin(), { KeyId: keyId });
      const status = await getKeyRotationStatus(admin(), { KeyId: keyId });
      assert.equal(status.KeyRotationEnabled, true);
      assert.equal(status.RotationPeriodInDays, 90);
    } finally {
      clock = saved;
    }
  });

  test("only symmetric encryption keys rotate, and imported material only on demand", async () => {
    const signing = await storedKey({ keySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" });
    const hmac = await storedKey({ keySpec: "HMAC_256", keyUsage: "GENERATE_VERIFY_MAC" });
    const imported = await storedKey({ origin: "EXTERNAL" });
    for (const keyId of [signing, hmac]) {
      for (const call of [
        enableKeyRotation(admin(), { KeyId: keyId }),
        disableKeyRotation(admin(), { KeyId: keyId }),
        getKeyRotationStatus(admin(), { KeyId: keyId }),
        rotateKeyOnDemand(admin(), { KeyId: keyId }),
        listKeyRotations(admin(), { KeyId: keyId }),
      ]) {
        assert.match(await failure(call), /^UnsupportedOperationException: /);
      }
    }
    // Automatic rotation is not for imported material; on-demand rotation needs new material imported first.
    assert.equal(
      await failure(enableKeyRotation(admin(), { KeyId: imported })),
      `UnsupportedOperationException: arn:aws:kms:us-east-1:${ACCOUNT}:key/${imported} origin is EXTERNAL which is not valid for this operation.`,
    );
    assert.equal((await getKeyRotationStatus(admin(), { KeyId: imported })).KeyRotationEnabled, false);
    assert.match(
      await failure(rotateKeyOnDemand(admin(), { KeyId: imported })),
      /^KMSInvalidStateException: .*PENDING_ROTATION/,
    );
  });
});

describe("versions", () => {
  test("ciphertexts made under each of ten successive versions all decrypt; new ones use the newest", async () => {
    const keyId = await newKeyId();
    const made: { blob: Uint8Array; plaintext: Buffer; materialId: string }[] = [];
    for (let version = 1; version <= 10; version++) {
      if (version > 1) await rotateKeyOnDemand(admin(), { KeyId: keyId });
      const plaintext = randomBytes(24);
      const { CiphertextBlob } = await encrypt(admin(), { KeyId: keyId, Plaintext: plaintext });
      made.push({ blob: CiphertextBlob as Uint8Array, plaintext, materialId: await currentMaterialId(keyId) });
    }
    assert.equal(new Set(made.map((entry) => entry.materialId)).size, 10, "every version has its own material id");
    for (const entry of made) {
      const decrypted = await decrypt(admin(), { CiphertextBlob: entry.blob });
      assert.deepEqual(Buffer.from(decrypted.Plaintext as Uint8Array), entry.plaintext);
      assert.equal(decrypted.KeyMaterialId, entry.materialId);
    }
    const moved = await reEncrypt(admin(), {
      CiphertextBlob: (made[0] as (typeof made)[number]).blob,
      DestinationKeyId: keyId,
    });
    assert.equal(moved.SourceKeyMaterialId, made[0]?.materialId);
    assert.equal(moved.DestinationKeyMaterialId, made[9]?.materialId);
    const again = await decrypt(admin(), { CiphertextBlob: moved.CiphertextBlob });
    assert.equal(again.KeyMaterialId, made[9]?.materialId);
  });

  test("RotateKeyOnDemand leaves the automatic schedule alone and is listed as ON_DEMAND", async () => {
    const keyId = await newKeyId();
    await enableKeyRotation(admin(), { KeyId: keyId });
    const before = await getKeyRotationStatus(admin(), { KeyId: keyId });
    const first = await currentMaterialId(keyId);
    assert.deepEqual(await rotateKeyOnDemand(admin(), { KeyId: keyId }), {
      KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
    });
    assert.deepEqual((await getKeyRotationStatus(admin(), { KeyId: keyId })).NextRotationDate, before.NextRotationDate);
    const second = await currentMaterialId(keyId);
    assert.notEqual(second, first);
    const listed = await listKeyRotations(admin(), { KeyId: keyId });
    assert.deepEqual(listed, {
      Rotations: [
        {
          KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
          KeyMaterialId: second,
          KeyMaterialState: "CURRENT",
          RotationDate: clock,
          RotationType: "ON_DEMAND",
        },
      ],
      Truncated: false,
    });
    const all = await listKeyRotations(admin(), { KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" });
    assert.deepEqual(all.Rotations?.[0], {
      KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
      KeyMaterialId: first,
      KeyMaterialState: "NON_CURRENT",
    });
  });

  test(`at most ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations per key`, async () => {
    const keyId = await newKeyId();
    for (let i = 0; i < MAX_ON_DEMAND_ROTATIONS; i++) await rotateKeyOnDemand(admin(), { KeyId: keyId });
    assert.match(await failure(rotateKeyOnDemand(admin(), { KeyId: keyId })), /^LimitExceededException: /);
  });

  test("RotateKeyOnDemand is refused within 20 minutes of an automatic rotation", async () => {
    const keyId = await newKeyId();
    await enableKeyRotation(admin(), { KeyId: keyId, RotationPeriodInDays: 90 });
    const saved = clock;
    clock = new Date(saved.getTime() + 90 * DAY - 10 * 60_000);
    try {
      assert.match(await failure(rotateKeyOnDemand(admin(), { KeyId: keyId })), /^ConflictException: /);
    } finally {
      clock = saved;
    }
  });

  test("ListKeyRotations pages oldest first with Limit and Marker", async () => {
    const keyId = await newKeyId();
    for (let i = 0; i < 5; i++) await rotateKeyOnDemand(admin(), { KeyId: keyId });
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await listKeyRotations(admin(), { KeyId: keyId, Limit: 2, ...(marker ? { Marker: marker } : {}) });
      pages++;
      for (const rotation of page.Rotations ?? []) seen.push(rotation.KeyMaterialId as string);
      assert.equal(page.Truncated, page.NextMarker !== undefined);
      marker = page.NextMarker;
    } while (marker !== undefined);
    assert.equal(pages, 3);
    assert.equal(seen.length, 5);
    assert.equal(seen[4], await currentMaterialId(keyId));
    assert.match(
      await failure(listKeyRotations(admin(), { KeyId: keyId, Marker: "bogus" })),
      /^InvalidMarkerException/,
    );
  });
});

describe("automatic rotation", () => {
  test("a due key rotates once, its next date moves one period on, and a disabled key waits", async () => {
    const keyId = await newKeyId();
    const disabledKeyId = await newKeyId();
    await enableKeyRotation(admin(), { KeyId: keyId, RotationPeriodInDays: 90 });
    await enableKeyRotation(admin(), { KeyId: disabledKeyId, RotationPeriodInDays: 90 });
    await disableKey(admin(), { KeyId: disabledKeyId });
    const saved = clock;
    try {
      clock = new Date(saved.getTime() + 89 * DAY);
      const first = await currentMaterialId(keyId);
      await rotateDueKeys(fixture.services);
      assert.equal(await currentMaterialId(keyId), first, "not due yet");

      clock = new Date(saved.getTime() + 90 * DAY);
      await rotateDueKeys(fixture.services);
      await rotateDueKeys(fixture.services);
      const rotations = (await listKeyRotations(admin(), { KeyId: keyId })).Rotations ?? [];
      assert.equal(rotations.length, 1);
      assert.equal(rotations[0]?.RotationType, "AUTOMATIC");
      assert.deepEqual(rotations[0]?.RotationDate, clock);
      assert.deepEqual(
        (await getKeyRotationStatus(admin(), { KeyId: keyId })).NextRotationDate,
        new Date(clock.getTime() + 90 * DAY),
      );

      const disabledBefore = await currentMaterialId(disabledKeyId);
      assert.equal(await currentMaterialId(disabledKeyId), disabledBefore);
      clock = new Date(saved.getTime() + 200 * DAY);
      await enableKey(admin(), { KeyId: disabledKeyId });
      await rotateDueKeys(fixture.services);
      assert.notEqual(await currentMaterialId(disabledKeyId), disabledBefore, "rotates as soon as re-enabled");
      assert.deepEqual(
        (await getKeyRotationStatus(admin(), { KeyId: disabledKeyId })).NextRotationDate,
        new Date(clock.getTime() + 90 * DAY),
      );
    } finally {
      clock = saved;
    }
  });
});

// Two nodes: two stores on one database, each with its own cache, backing keys and scheduler.
const postgres = await startPostgres().catch((error: unknown) => {
  if (error instanceof PostgresNotInstalledError && !process.env.CI) return error;
  throw error;
});
after(() => (postgres instanceof Error ? undefined : postgres.stop()));

const sqliteDir = mkdtempSync(join(tmpdir(), "trent-rotation-"));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

const sharedDatabases: { name: string; skip: string | false; open(): Promise<() => Promise<KeyStore>> }[] = [
  {
    name: "SQLite",
    skip: false,
    async open() {
      return async () => new SqliteKeyStore(join(sqliteDir, "shared.db"));
    },
  },
  {
    name: "PostgreSQL",
    skip: postgres instanceof Error && `PostgreSQL is not installed here: ${postgres.message}`,
    async open() {
      if (postgres instanceof Error) throw postgres;
      const client = new pg.Client(postgres.url);
      await client.connect();
      await client.query("CREATE DATABASE rotation_nodes");
      await client.end();
      const url = new URL(postgres.url);
      url.pathname = "/rotation_nodes";
      return () => PostgresKeyStore.open(url.href);
    },
  },
];

for (const database of sharedDatabases) {
  test(`two nodes on one ${database.name} database rotate a due key exactly once`, {
    skip: database.skip,
  }, async () => {
    const openStore = await database.open();
    const root = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
    let now = new Date("2026-03-01T00:00:00Z");
    const stores: KeyStore[] = [];
    const node = async (): Promise<Services> => {
      const inner = await openStore();
      stores.push(inner);
      const store = new CachingKeyStore(inner);
      return {
        store,
        root,
        backingKeys: new BackingKeys(store, root),
        authorizer: new AccountBoundaryAuthorizer(),
        audit: new DiscardingAuditSink(),
        keyUsage: fixture.services.keyUsage,
        quotas: fixture.services.quotas,
        metrics: fixture.services.metrics,
        keyPairs: { take: generateKeyPairDer },
        attestation: fixture.services.attestation,
        now: () => now,
        allowSm2: true,
      };
    };
    const nodes = [await node(), await node()];
    try {
      const [a, b] = nodes.map(contextOf) as [OperationContext, OperationContext];
      const keyId = (await createKey(a, {})).KeyMetadata?.KeyId as string;
      await enableKeyRotation(a, { KeyId: keyId, RotationPeriodInDays: 90 });
      const blobs: Uint8Array[] = [];
      for (let period = 1; period <= 10; period++) {
        const { CiphertextBlob } = await encrypt(period % 2 === 0 ? a : b, {
          KeyId: keyId,
          Plaintext: Buffer.from([period]),
        });
        blobs.push(CiphertextBlob as Uint8Array);
        now = new Date(now.getTime() + 90 * DAY);
        // Both schedulers at once, several passes each: the key is due once per period.
        const rotated = await Promise.all(
          nodes.flatMap((services) => [rotateDueKeys(services), rotateDueKeys(services)]),
        );
        assert.equal(
          rotated.reduce((sum, count) => sum + count, 0),
          1,
          `period ${period}: rotated ${rotated}`,
        );
      }
      const listed = await listKeyRotations(b, { KeyId: keyId, Limit: 100 });
      assert.equal(listed.Rotations?.length, 10);
      assert.ok(listed.Rotations?.every((rotation) => rotation.RotationType === "AUTOMATIC"));
      // Every version decrypts on both nodes, whichever node made the ciphertext.
      for (const [i, blob] of blobs.entries()) {
        for (const context of [a, b]) {
          const { Plaintext } = await decrypt(context, { CiphertextBlob: blob });
          assert.deepEqual(Buffer.from(Plaintext as Uint8Array), Buffer.from([i + 1]));
        }
      }
    } finally {
      for (const store of stores) await store.close();
    }
  });
}
