import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { AccessKeys } from "../../src/auth/access-keys.js";
import { ClientKeys } from "../../src/auth/client-keys.js";
import { BackingKeys } from "../../src/crypto/backing-keys.js";
import { generateKeyMaterial } from "../../src/crypto/key-material.js";
import type { KmsKey } from "../../src/domain/key.js";
import { newGrantId } from "../../src/policy/grants.js";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { createRootCheck } from "../../src/root/root-check.js";
import { checkIntegrity } from "../../src/store/integrity-check.js";
import { PostgresKeyStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { IntegrityScan, KeyStore } from "../../src/store/store.js";
import { createDatabase, dropDatabase } from "../integration/trent-process.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const ACCOUNT = "111122223333";
const REGION = "us-east-1";
const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" }],
});

/** A store under test, with a way to damage it behind Trent's back. */
interface Backend {
  readonly store: KeyStore & IntegrityScan;
  /** Runs SQL on a separate connection that enforces no foreign keys. */
  sql(text: string, params?: unknown[]): Promise<void>;
  /** The parameter placeholder for position i (1-based). */
  param(i: number): string;
  close(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend & { file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "trent-integrity-"));
  const file = join(dir, "trent.db");
  const store = new SqliteKeyStore(file);
  return {
    store,
    file,
    dir,
    param: () => "?",
    async sql(text, params = []) {
      const db = new Database(file);
      db.pragma("foreign_keys = OFF");
      db.prepare(text).run(...params);
      db.close();
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(serverUrl: string): Promise<Backend> {
  const url = await createDatabase(serverUrl);
  const store = await PostgresKeyStore.open(url);
  return {
    store,
    param: (i) => `$${i}`,
    async sql(text, params = []) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // A superuser's way round foreign keys: the triggers that enforce them do not fire.
        await client.query("SET session_replication_role = replica");
        await client.query(text, params);
      } finally {
        await client.end();
      }
    },
    async close() {
      await store.close();
      await dropDatabase(url);
    },
  };
}

interface Fixture {
  readonly root: KeyFileRoot;
  /** The root key as `root.key` holds it. */
  readonly rootKey: string;
  /** Symmetric, rotated once on demand. */
  readonly rotated: KmsKey;
  /** Symmetric, with an alias and a grant. */
  readonly aliased: KmsKey;
  readonly grantId: string;
  readonly symmetric: KmsKey;
  readonly rsa: KmsKey;
  readonly hmac: KmsKey;
  readonly accessKeyId: string;
}

function newKey(fields: Partial<KmsKey>): KmsKey {
  return {
    keyId: randomUUID(),
    accountId: ACCOUNT,
    region: REGION,
    createdAt: new Date(),
    description: "",
    keySpec: "SYMMETRIC_DEFAULT",
    keyUsage: "ENCRYPT_DECRYPT",
    origin: "AWS_KMS",
    keyState: "Enabled",
    deletionDate: null,
    pendingDeletionWindowInDays: null,
    policy: POLICY,
    currentVersion: 1,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    ...fields,
  };
}

/** A small store written the way Trent writes it: keys of several kinds, a rotation, an alias, a grant, access and client keys. */
async function populate(store: KeyStore): Promise<Fixture> {
  const rootKey = randomBytes(32).toString("base64");
  const root = KeyFileRoot.fromBase64(rootKey);
  await store.initMeta("account_id", ACCOUNT);
  await store.initMeta("root_check", await createRootCheck(root));
  const backingKeys = new BackingKeys(store, root);
  const create = async (fields: Partial<KmsKey> = {}) => {
    const key = newKey(fields);
    const material = await backingKeys.create(key.keyId, 1, await generateKeyMaterial(key.keySpec));
    await store.createKey(key, material, [{ TagKey: "team", TagValue: "a" }]);
    return key;
  };
  const rotated = await create();
  assert.ok(
    await store.rotateKey({
      keyId: rotated.keyId,
      fromVersion: 1,
      wrappedMaterial: await backingKeys.create(rotated.keyId, 2),
      rotationType: "ON_DEMAND",
      rotatedAt: new Date(),
    }),
  );
  const aliased = await create();
  const symmetric = await create();
  const rsa = await create({ keySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" });
  const hmac = await create({ keySpec: "HMAC_256", keyUsage: "GENERATE_VERIFY_MAC" });
  await create({ keySpec: "ECC_NIST_P256", keyUsage: "SIGN_VERIFY" });
  await create({ keySpec: "ML_DSA_44", keyUsage: "SIGN_VERIFY" });
  const now = new Date();
  assert.ok(
    await store.createAlias({
      accountId: ACCOUNT,
      region: REGION,
      aliasName: "alias/app",
      targetKeyId: aliased.keyId,
      createdAt: now,
      lastUpdatedAt: now,
    }),
  );
  const accessKeys = new AccessKeys(store, root);
  const user = await accessKeys.ensurePrincipal(ACCOUNT, "user", "app");
  const { accessKeyId } = await accessKeys.issue(user);
  await new ClientKeys(store).issue(user);
  const grantId = newGrantId();
  assert.ok(
    await store.createGrant({
      grantId,
      keyId: aliased.keyId,
      name: "app",
      granteePrincipal: user.arn,
      retiringPrincipal: null,
      issuingAccount: ACCOUNT,
      operations: ["Encrypt", "Decrypt"],
      constraints: { EncryptionContextSubset: { app: "x" } },
      createdAt: now,
    }),
  );
  return { root, rootKey, rotated, aliased, grantId, symmetric, rsa, hmac, accessKeyId };
}

const HEALTHY_COUNTS = { keys: 7, keyMaterialVersions: 8, aliases: 1, grants: 1, accessKeys: 1, clientKeys: 1 };

/** Every pattern matches some problem, and every problem matches some pattern. */
function assertExactly(found: readonly string[], patterns: readonly RegExp[]): void {
  const listed = `\n${found.join("\n")}`;
  for (const pattern of patterns) {
    assert.ok(
      found.some((problem) => pattern.test(problem)),
      `expected a problem matching ${pattern}; found:${listed}`,
    );
  }
  for (const problem of found) {
    assert.ok(
      patterns.some((pattern) => pattern.test(problem)),
      `unexpected problem ${problem}; found:${listed}`,
    );
  }
}

const regexLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const postgresUrl = process.env.TRENT_TEST_POSTGRES_URL;
const backends: { name: string; skip: string | false; open(): Promise<Backend> }[] = [
  { name: "SQLite", skip: false, open: sqliteBackend },
  {
    name: "PostgreSQL",
    skip: postgresUrl === undefined ? "TRENT_TEST_POSTGRES_URL is not set" : false,
    open: () => postgresBackend(postgresUrl as string),
  },
];

for (const backend of backends) {
  describe(`the integrity check on ${backend.name}`, { skip: backend.skip }, () => {
    let store: Backend;
    let fixture: Fixture;
    before(async () => {
      store = await backend.open();
      fixture = await populate(store.store);
    });
    after(async () => {
      await store?.close();
    });

    test("a store written as Trent writes it has no problems, and every wrapped value was opened", async () => {
      const report = await checkIntegrity(store.store, fixture.root);
      assert.deepEqual(report.problems, []);
      assert.deepEqual(report.checked, HEALTHY_COUNTS);
    });

    test("under another root key the store says so, and no backing key or secret opens", async () => {
      const { problems } = await checkIntegrity(
        store.store,
        KeyFileRoot.fromBase64(randomBytes(32).toString("base64")),
      );
      assertExactly(problems, [
        /^the root key is not the one this store was written under/,
        /^key [-0-9a-f]{36}: backing-key version [12] does not unwrap under the root key/,
        /^access key AKIA\w+: its secret does not unwrap under the root key/,
      ]);
      assert.equal(problems.length, 1 + HEALTHY_COUNTS.keyMaterialVersions + 1);
    });

    test("damage behind Trent's back is found, each where it is, and nothing else", async () => {
      const { rotated, aliased, symmetric, rsa, hmac } = fixture;
      const $ = store.param;
      // The current backing-key version of a rotated key is lost.
      await store.sql(`DELETE FROM key_material WHERE key_id = ${$(1)} AND version = 2`, [rotated.keyId]);
      // Wrapped material copied into another key's row: its wrapping context names the other key.
      await store.sql(
        `UPDATE key_material SET wrapped = (SELECT wrapped FROM key_material WHERE key_id = ${$(1)} AND version = 1)
         WHERE key_id = ${$(2)} AND version = 1`,
        [rotated.keyId, symmetric.keyId],
      );
      // Correctly wrapped, but 32 random bytes where an RSA private key belongs.
      const notRsa = await new BackingKeys(store.store, fixture.root).create(rsa.keyId, 1, randomBytes(32));
      await store.sql(`UPDATE key_material SET wrapped = ${$(1)} WHERE key_id = ${$(2)}`, [notRsa, rsa.keyId]);
      await store.sql(`UPDATE keys SET policy = '{"Statement": 7}' WHERE key_id = ${$(1)}`, [rsa.keyId]);
      await store.sql(`UPDATE access_keys SET wrapped_secret = ${$(1)} WHERE access_key_id = ${$(2)}`, [
        Buffer.alloc(60),
        fixture.accessKeyId,
      ]);
      // A key removed without its alias, grant, tags and material.
      await store.sql(`DELETE FROM keys WHERE key_id = ${$(1)}`, [aliased.keyId]);
      await store.sql(`UPDATE keys SET key_state = 'PendingDeletion' WHERE key_id = ${$(1)}`, [symmetric.keyId]);
      await store.sql(`UPDATE keys SET rotation_period_days = 90 WHERE key_id = ${$(1)}`, [hmac.keyId]);
      if (backend.name === "PostgreSQL") await store.sql("ALTER TABLE grants DISABLE TRIGGER ALL");

      const orphanedBy =
        backend.name === "SQLite"
          ? (table: string) =>
              new RegExp(`^SQLite foreign_key_check: row \\d+ of ${table} refers to a missing row of keys$`)
          : (table: string) => new RegExp(`^1 rows of ${table} refer to missing rows of keys$`);
      const { problems } = await checkIntegrity(store.store, fixture.root);
      assertExactly(problems, [
        new RegExp(`^key ${rotated.keyId}: has backing-key versions \\[1\\], expected 1 to 2$`),
        new RegExp(`^key ${rotated.keyId}: has 0 recorded rotations, but its current version 2 needs 1$`),
        new RegExp(
          `^key ${symmetric.keyId}: backing-key version 1 does not unwrap under the root key \\(wrapped value for ${regexLiteral(`trent/backing-key/${symmetric.keyId}/1`)} does not open`,
        ),
        new RegExp(`^key ${symmetric.keyId}: pending deletion without a deletion date$`),
        new RegExp(`^key ${rsa.keyId}: backing-key version 1 is not a usable RSA_2048 private key`),
        new RegExp(`^key ${rsa.keyId}: its key policy is not valid`),
        new RegExp(`^key ${hmac.keyId}: has half an automatic rotation schedule`),
        new RegExp(`^key ${hmac.keyId}: has automatic rotation on, but keys of its kind do not rotate$`),
        new RegExp(`^access key ${fixture.accessKeyId}: its secret does not unwrap under the root key`),
        new RegExp(
          `^alias alias/app \\(account ${ACCOUNT}, ${REGION}\\) points at key ${aliased.keyId}, which does not exist$`,
        ),
        new RegExp(`^grant ${fixture.grantId} is for key ${aliased.keyId}, which does not exist$`),
        orphanedBy("key_material"),
        orphanedBy("aliases"),
        orphanedBy("tags"),
        orphanedBy("grants"),
        ...(backend.name === "PostgreSQL" ? [/^trigger \S+ on grants is disabled$/] : []),
      ]);
    });
  });
}

function runCheck(dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "check", "--data", dataDir], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe("trent check", () => {
  test("exits 0 on a healthy store, 1 listing what is wrong, 2 when there is no store to check", async () => {
    const backend = await sqliteBackend();
    try {
      const fixture = await populate(backend.store);
      writeFileSync(join(backend.dir, "root.key"), `${fixture.rootKey}\n`, { mode: 0o600 });
      const healthy = await runCheck(backend.dir);
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.match(
        healthy.stdout,
        /checked 7 keys \(8 backing-key versions unwrapped\), 1 alias, 1 grant, 1 access key, 1 client key\nno problems found/,
      );

      await backend.sql(`DELETE FROM key_material WHERE key_id = ? AND version = 2`, [fixture.rotated.keyId]);
      const damaged = await runCheck(backend.dir);
      assert.equal(damaged.code, 1);
      assert.match(damaged.stdout, /2 problems found:\n {2}key .*: has backing-key versions \[1\], expected 1 to 2/);

      const empty = mkdtempSync(join(tmpdir(), "trent-integrity-empty-"));
      const missing = await runCheck(empty);
      rmSync(empty, { recursive: true, force: true });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /there is no root key/);
    } finally {
      await backend.close();
    }
  });

  test("SQLite's own check finds a damaged index page", async () => {
    const backend = await sqliteBackend();
    try {
      const fixture = await populate(backend.store);
      await backend.store.close();
      const db = new Database(backend.file);
      db.pragma("wal_checkpoint(TRUNCATE)");
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      const rootPage = db
        .prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'aliases_by_key'")
        .pluck()
        .get() as number;
      db.close();
      const fd = openSync(backend.file, "r+");
      writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (rootPage - 1) * pageSize);
      closeSync(fd);
      const reopened = { ...backend, store: new SqliteKeyStore(backend.file) };
      try {
        const { problems } = await checkIntegrity(reopened.store, fixture.root);
        assert.ok(
          problems.some((problem) => problem.startsWith("SQLite integrity_check: ")),
          problems.join("\n"),
        );
      } finally {
        await reopened.store.close();
      }
    } finally {
      rmSync(backend.dir, { recursive: true, force: true });
    }
  });
});
