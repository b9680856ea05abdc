import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import type { KmsKey, Tag } from "../../src/domain/key.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { PostgresKeyStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Alias, Grant, KeyStore, Page } from "../../src/store/store.js";
import { StoreUnavailableError } from "../../src/store/store-errors.js";
import { PostgresNotInstalledError, startPostgres } from "../support/postgres-server.js";

// One suite, run against every KeyStore implementation: they must be interchangeable.

const REGION = "eu-west-1";
const T0 = 1_700_000_000_123;
// Strings whose byte order (SQLite's, and PostgreSQL's "C" collation) differs from a locale's order
// and from JavaScript's UTF-16 order.
const ORDER_PROBES = ["B", "a", "_", "-", "0", "Z", "~", "é", "\uFF5E", "\u{1F600}"];
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const newAccount = () => String(randomInt(100_000_000_000, 999_999_999_999));

function newKey(fields: Partial<KmsKey> = {}): KmsKey {
  return {
    keyId: randomUUID(),
    accountId: "111122223333",
    region: REGION,
    createdAt: new Date(T0),
    description: "a key",
    keySpec: "SYMMETRIC_DEFAULT",
    keyUsage: "ENCRYPT_DECRYPT",
    origin: "AWS_KMS",
    keyState: "Enabled",
    deletionDate: null,
    pendingDeletionWindowInDays: null,
    policy: '{"Version":"2012-10-17"}',
    currentVersion: 1,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    ...fields,
  };
}

function newAlias(key: KmsKey, aliasName: string, fields: Partial<Alias> = {}): Alias {
  return {
    accountId: key.accountId,
    region: key.region,
    aliasName,
    targetKeyId: key.keyId,
    createdAt: new Date(T0),
    lastUpdatedAt: new Date(T0),
    ...fields,
  };
}

function newGrant(keyId: string, fields: Partial<Grant> = {}): Grant {
  return {
    grantId: randomUUID(),
    keyId,
    name: null,
    granteePrincipal: "arn:aws:iam::111122223333:role/app",
    retiringPrincipal: null,
    issuingAccount: "111122223333",
    operations: ["Encrypt", "Decrypt"],
    constraints: null,
    createdAt: new Date(T0),
    ...fields,
  };
}

/** Pages through a listing with a small limit, checking each page's continuation. */
async function pageAll<T>(list: (after: string | null) => Promise<Page<T>>, sortKey: (item: T) => string) {
  const all: T[] = [];
  let after: string | null = null;
  do {
    const page: Page<T> = await list(after);
    all.push(...page.items);
    const last = page.items[page.items.length - 1];
    if (page.next !== null) assert.equal(page.next, last && sortKey(last));
    after = page.next;
  } while (after !== null);
  return all;
}

async function createKeys(store: KeyStore, keys: KmsKey[]) {
  for (const key of keys) await store.createKey(key, Buffer.from(`material of ${key.keyId}`), []);
}

// CI has PostgreSQL: there its absence is a failure, not a reason to skip.
const postgres = await startPostgres().catch((error: unknown) => {
  if (error instanceof PostgresNotInstalledError && !process.env.CI) return error;
  throw error;
});
const postgresSkip = postgres instanceof Error && `PostgreSQL is not installed here: ${postgres.message}`;
after(() => (postgres instanceof Error ? undefined : postgres.stop()));

function databaseUrl(database: string): string {
  assert(!(postgres instanceof Error));
  const url = new URL(postgres.url);
  url.pathname = `/${database}`;
  return url.href;
}

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const sqliteDir = mkdtempSync(join(tmpdir(), "trent-store-"));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

/** The order each backend listed the probes in, by listing; compared across backends at the end. */
const ordersSeen = new Map<string, Record<string, string[]>>();

const backends: { name: string; skip: string | false; open(): Promise<KeyStore> }[] = [
  {
    name: "SQLite",
    skip: false,
    async open() {
      return new SqliteKeyStore(join(sqliteDir, "trent.db"));
    },
  },
  {
    name: "PostgreSQL",
    skip: postgresSkip,
    async open() {
      // A database whose own collation orders "a" before "B": listings must still come in byte order.
      await sql(
        databaseUrl("postgres"),
        "CREATE DATABASE conformance TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
      );
      return PostgresKeyStore.open(databaseUrl("conformance"));
    },
  },
];

for (const backend of backends) {
  describe(`KeyStore on ${backend.name}`, { skip: backend.skip }, () => {
    let store: KeyStore;
    const orders: Record<string, string[]> = {};
    before(async () => {
      store = await backend.open();
      ordersSeen.set(backend.name, orders);
    });
    after(() => store.close());

    test("initMeta keeps the first value; setMeta replaces it", async () => {
      const name = `meta-${randomUUID()}`;
      assert.equal(await store.getMeta(name), undefined);
      assert.equal(await store.initMeta(name, "first"), "first");
      assert.equal(await store.initMeta(name, "second"), "first");
      await store.setMeta(name, "third");
      assert.equal(await store.getMeta(name), "third");
      assert.equal(await store.initMeta(name, "fourth"), "third");
    });

    test("20 racing initMeta calls store one value and all return it", async () => {
      const name = `meta-${randomUUID()}`;
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => store.initMeta(name, `value-${i}`)));
      assert.equal(new Set(values).size, 1);
      assert.equal(await store.getMeta(name), values[0]);
    });

    test("createKey stores the key with its material and tags; getKey returns every field", async () => {
      const key = newKey({
        description: "",
        keySpec: "RSA_2048",
        keyUsage: "SIGN_VERIFY",
        origin: "EXTERNAL",
        keyState: "PendingDeletion",
        deletionDate: new Date(T0 + 7 * 86_400_000),
        pendingDeletionWindowInDays: 7,
        currentVersion: 3,
      });
      await store.createKey(key, Buffer.from([0, 1, 2, 255]), [{ TagKey: "team", TagValue: "payments" }]);
      assert.deepEqual(await store.getKey(key.keyId), key);
      assert.deepEqual(await store.getKeyMaterial(key.keyId, 3), Buffer.from([0, 1, 2, 255]));
      assert.equal(await store.getKeyMaterial(key.keyId, 1), undefined);
      assert.deepEqual((await store.listTags(key.keyId, null, 10)).items, [{ TagKey: "team", TagValue: "payments" }]);
      assert.equal(await store.getKey(randomUUID()), undefined);
    });

    test("createKey writes nothing when any part of it fails", async () => {
      const key = newKey();
      const badTag = { TagKey: "t", TagValue: null } as unknown as Tag;
      await assert.rejects(store.createKey(key, Buffer.from("m"), [{ TagKey: "ok", TagValue: "v" }, badTag]));
      assert.equal(await store.getKey(key.keyId), undefined);
      assert.equal(await store.getKeyMaterial(key.keyId, 1), undefined);

      await store.createKey(key, Buffer.from("original"), []);
      await assert.rejects(store.createKey({ ...key, description: "again" }, Buffer.from("other"), []));
      assert.deepEqual(await store.getKey(key.keyId), key);
      assert.deepEqual(await store.getKeyMaterial(key.keyId, 1), Buffer.from("original"));
    });

    test("updateKey writes only the given fields, and with onlyInStates only in those states", async () => {
      const key = newKey();
      await createKeys(store, [key]);
      assert.equal(await store.updateKey(key.keyId, { description: "renamed" }), true);
      assert.deepEqual(await store.getKey(key.keyId), { ...key, description: "renamed" });

      const deletionDate = new Date(T0 + 86_400_000);
      const schedule = { keyState: "PendingDeletion", deletionDate, pendingDeletionWindowInDays: 7 } as const;
      assert.equal(await store.updateKey(key.keyId, schedule, ["Disabled"]), false);
      assert.equal((await store.getKey(key.keyId))?.keyState, "Enabled");
      assert.equal(await store.updateKey(key.keyId, schedule, ["Enabled", "Disabled"]), true);
      assert.deepEqual(await store.getKey(key.keyId), { ...key, description: "renamed", ...schedule });

      const cancel = { keyState: "Disabled", deletionDate: null, pendingDeletionWindowInDays: null } as const;
      assert.equal(await store.updateKey(key.keyId, cancel, ["PendingDeletion"]), true);
      assert.deepEqual(await store.getKey(key.keyId), { ...key, description: "renamed", ...cancel });
      assert.equal(await store.updateKey(key.keyId, { policy: "{}" }, []), false);
      assert.equal(await store.updateKey(randomUUID(), { description: "x" }), false);
    });

    test("listKeys pages through one account and region in byte order of key ids", async () => {
      const account = newAccount();
      const prefix = randomUUID();
      const keys = ORDER_PROBES.map((probe) => newKey({ keyId: `${prefix}${probe}`, accountId: account }));
      await createKeys(store, [...keys, newKey({ accountId: account, region: "us-east-1" }), newKey()]);
      const listed = await pageAll(
        (after) => store.listKeys(account, REGION, after, 3),
        (key) => key.keyId,
      );
      const expected = keys.map((key) => key.keyId).sort(byteOrder);
      assert.deepEqual(
        listed.map((key) => key.keyId),
        expected,
      );
      assert.deepEqual(listed[0], keys.find((key) => key.keyId === expected[0]) as KmsKey);
      orders.keys = listed.map((key) => key.keyId.slice(prefix.length));
      const exact = await store.listKeys(account, REGION, null, keys.length);
      assert.equal(exact.items.length, keys.length);
      assert.equal(exact.next, null);
    });

    test("deleteKeyIfDue removes a due key pending deletion with its material, aliases, tags and grants", async () => {
      const now = new Date(T0 + 10 * 86_400_000);
      const due = newKey({ keyState: "PendingDeletion", deletionDate: new Date(now.getTime() - 1) });
      const notYet = newKey({ keyState: "PendingDeletion", deletionDate: new Date(now.getTime() + 60_000) });
      const enabled = newKey({ deletionDate: new Date(now.getTime() - 1) });
      await createKeys(store, [due, notYet, enabled]);
      for (const key of [due, notYet]) {
        await store.createAlias(newAlias(key, `alias/${key.keyId}`));
        await store.putTags(key.keyId, [{ TagKey: "k", TagValue: "v" }], 50);
        await store.createGrant(newGrant(key.keyId, { grantId: `grant-${key.keyId}`, name: "g" }));
      }

      const dueIds = await store.keysDueForDeletion(now);
      assert(dueIds.includes(due.keyId));
      assert(!dueIds.includes(notYet.keyId) && !dueIds.includes(enabled.keyId));
      assert.equal(await store.deleteKeyIfDue(notYet.keyId, now), false);
      assert.equal(await store.deleteKeyIfDue(enabled.keyId, now), false);
      assert.equal(await store.deleteKeyIfDue(due.keyId, now), true);
      assert.equal(await store.deleteKeyIfDue(due.keyId, now), false);

      assert.equal(await store.getKey(due.keyId), undefined);
      assert.equal(await store.getKeyMaterial(due.keyId, 1), undefined);
      assert.equal(await store.getAlias(due.accountId, REGION, `alias/${due.keyId}`), undefined);
      assert.deepEqual((await store.listTags(due.keyId, null, 10)).items, []);
      assert.equal(await store.getGrant(`grant-${due.keyId}`), undefined);
      assert.equal(await store.findGrantByName(due.keyId, "g"), undefined);

      assert.notEqual(await store.getKeyMaterial(notYet.keyId, 1), undefined);
      assert.notEqual(await store.getAlias(notYet.accountId, REGION, `alias/${notYet.keyId}`), undefined);
      assert.equal((await store.listTags(notYet.keyId, null, 10)).items.length, 1);
      assert.notEqual(await store.getGrant(`grant-${notYet.keyId}`), undefined);
    });

    test("alias names are unique per account and region; aliases are updated, listed and deleted", async () => {
      const account = newAccount();
      const [key, other] = [newKey({ accountId: account }), newKey({ accountId: account })];
      await createKeys(store, [key, other]);
      const alias = newAlias(key, "alias/app");
      assert.equal(await store.createAlias(alias), true);
      assert.equal(await store.createAlias(newAlias(other, "alias/app")), false);
      assert.deepEqual(await store.getAlias(account, REGION, "alias/app"), alias);
      const elsewhere = newKey({ accountId: account, region: "us-east-1" });
      await createKeys(store, [elsewhere]);
      assert.equal(await store.createAlias(newAlias(elsewhere, "alias/app")), true);
      await assert.rejects(store.createAlias(newAlias(newKey({ accountId: account }), "alias/no-such-key")));

      const moved = { ...alias, targetKeyId: other.keyId, lastUpdatedAt: new Date(T0 + 5) };
      await store.updateAlias(moved);
      assert.deepEqual(await store.getAlias(account, REGION, "alias/app"), moved);

      const names = ORDER_PROBES.map((probe) => `alias/${probe}`);
      for (const name of names) await store.createAlias(newAlias(key, name));
      const listed = await pageAll(
        (after) => store.listAliases(account, REGION, null, after, 4),
        (a) => a.aliasName,
      );
      assert.deepEqual(
        listed.map((a) => a.aliasName),
        [...names, "alias/app"].sort(byteOrder),
      );
      orders.aliases = listed.map((a) => a.aliasName);
      const forKey = await pageAll(
        (after) => store.listAliases(account, REGION, key.keyId, after, 4),
        (a) => a.aliasName,
      );
      assert.deepEqual(
        forKey.map((a) => a.aliasName),
        [...names].sort(byteOrder),
      );
      assert.deepEqual(
        (await store.listAliases(account, REGION, other.keyId, null, 10)).items.map((a) => a.aliasName),
        ["alias/app"],
      );

      await store.deleteAlias(account, REGION, "alias/app");
      assert.equal(await store.getAlias(account, REGION, "alias/app"), undefined);
      assert.notEqual(await store.getAlias(account, "us-east-1", "alias/app"), undefined);
    });

    test("20 concurrent createAlias calls of one name: exactly one wins and its target is stored", async () => {
      const keys = Array.from({ length: 20 }, () => newKey());
      await createKeys(store, keys);
      const name = `alias/race-${randomUUID()}`;
      const results = await Promise.all(keys.map((key) => store.createAlias(newAlias(key, name))));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = keys[results.indexOf(true)] as KmsKey;
      assert.equal((await store.getAlias(winner.accountId, REGION, name))?.targetKeyId, winner.keyId);
    });

    test("putTags inserts or replaces, removeTags removes, listTags pages in byte order", async () => {
      const key = newKey();
      await createKeys(store, [key]);
      assert.equal(
        await store.putTags(
          key.keyId,
          ORDER_PROBES.map((probe) => ({ TagKey: probe, TagValue: "1" })),
          50,
        ),
        true,
      );
      const tagCount = ORDER_PROBES.length;
      // Over the limit writes nothing; overwriting existing keys does not count twice.
      assert.equal(await store.putTags(key.keyId, [{ TagKey: "over", TagValue: "x" }], tagCount), false);
      assert.equal(await store.putTags(key.keyId, [{ TagKey: "a", TagValue: "1" }], tagCount), true);
      await store.putTags(
        key.keyId,
        [
          { TagKey: "a", TagValue: "2" },
          { TagKey: "new", TagValue: "x" },
          { TagKey: "new", TagValue: "last wins" },
        ],
        50,
      );
      await store.removeTags(key.keyId, ["B", "absent"]);
      await store.putTags(key.keyId, [], 50);
      await store.removeTags(key.keyId, []);
      const listed = await pageAll(
        (after) => store.listTags(key.keyId, after, 3),
        (tag) => tag.TagKey,
      );
      const expectedKeys = [...ORDER_PROBES.filter((probe) => probe !== "B"), "new"].sort(byteOrder);
      assert.deepEqual(
        listed.map((tag) => tag.TagKey),
        expectedKeys,
      );
      assert.equal(listed.find((tag) => tag.TagKey === "a")?.TagValue, "2");
      assert.equal(listed.find((tag) => tag.TagKey === "new")?.TagValue, "last wins");
      orders.tags = listed.map((tag) => tag.TagKey);
    });

    test("principals are written once; access keys are created, listed in id order and deleted", async () => {
      const arn = `arn:aws:iam::111122223333:user/${randomUUID()}`;
      await store.putPrincipal({ arn, accountId: "111122223333", principalId: "AIDAFIRST" });
      await store.putPrincipal({ arn, accountId: "111122223333", principalId: "AIDASECOND" });
      assert.deepEqual(await store.getPrincipal(arn), { arn, accountId: "111122223333", principalId: "AIDAFIRST" });
      assert.equal(await store.getPrincipal(`${arn}-none`), undefined);

      const prefix = `AKIA${randomUUID()}`;
      const newAccessKey = (accessKeyId: string, principalArn = arn) => ({
        accessKeyId,
        principalArn,
        wrappedSecret: Buffer.from([1, 2, 3, 0]),
        createdAt: new Date(T0),
      });
      const accessKeys = ["b", "A", "a"].map((suffix) => newAccessKey(`${prefix}${suffix}`));
      for (const accessKey of accessKeys) await store.createAccessKey(accessKey);
      await assert.rejects(store.createAccessKey(newAccessKey(`${prefix}x`, `${arn}-none`)));
      assert.deepEqual(await store.getAccessKey(`${prefix}A`), accessKeys[1]);
      const ids = [`${prefix}A`, `${prefix}a`, `${prefix}b`];
      assert.deepEqual(
        (await store.listAccessKeys(arn)).map((k) => k.accessKeyId),
        ids,
      );
      assert.deepEqual(
        (await store.listAccessKeys(null)).map((k) => k.accessKeyId).filter((id) => id.startsWith(prefix)),
        ids,
      );
      assert.equal(await store.deleteAccessKey(`${prefix}a`), true);
      assert.equal(await store.deleteAccessKey(`${prefix}a`), false);
      assert.equal(await store.getAccessKey(`${prefix}a`), undefined);
    });

    test("identity policies are replaced by name, listed in name order, and deleted", async () => {
      const principalArn = `arn:aws:iam::111122223333:role/${randomUUID()}`;
      await store.putPrincipal({ arn: principalArn, accountId: "111122223333", principalId: "AROAX" });
      for (const policyName of ["b", "A", "a"]) {
        await store.putIdentityPolicy({ principalArn, policyName, document: `{"v":"${policyName}"}` });
      }
      await store.putIdentityPolicy({ principalArn, policyName: "a", document: "{}" });
      assert.deepEqual(await store.listIdentityPolicies(principalArn), [
        { principalArn, policyName: "A", document: '{"v":"A"}' },
        { principalArn, policyName: "a", document: "{}" },
        { principalArn, policyName: "b", document: '{"v":"b"}' },
      ]);
      assert.equal(await store.deleteIdentityPolicy(principalArn, "A"), true);
      assert.equal(await store.deleteIdentityPolicy(principalArn, "A"), false);
      assert.deepEqual(
        (await store.listIdentityPolicies(principalArn)).map((p) => p.policyName),
        ["a", "b"],
      );
    });

    test("grant names are unique per key; grants are found, paged in id order, and deleted", async () => {
      const [key, other] = [newKey(), newKey()];
      await createKeys(store, [key, other]);
      const retiring = `arn:aws:iam::111122223333:role/${randomUUID()}`;
      const named = newGrant(key.keyId, {
        name: "nightly",
        retiringPrincipal: retiring,
        constraints: { EncryptionContextSubset: { dept: "ops" } },
        operations: ["Decrypt", "RetireGrant"],
      });
      assert.equal(await store.createGrant(named), true);
      assert.equal(await store.createGrant(newGrant(key.keyId, { name: "nightly" })), false);
      assert.equal(await store.createGrant({ ...named, keyId: other.keyId, name: "other" }), false);
      assert.equal(await store.createGrant(newGrant(other.keyId, { name: "nightly" })), true);
      assert.deepEqual(await store.getGrant(named.grantId), named);
      assert.deepEqual(await store.findGrantByName(key.keyId, "nightly"), named);
      assert.equal(await store.findGrantByName(key.keyId, "absent"), undefined);

      const prefix = randomUUID();
      const unnamed = ORDER_PROBES.map((probe) =>
        newGrant(key.keyId, { grantId: `${prefix}${probe}`, retiringPrincipal: retiring }),
      );
      for (const grant of unnamed) assert.equal(await store.createGrant(grant), true);
      const all = [named, ...unnamed].map((g) => g.grantId).sort(byteOrder);
      const listed = await pageAll(
        (after) => store.listGrants(key.keyId, after, 4),
        (g) => g.grantId,
      );
      assert.deepEqual(
        listed.map((g) => g.grantId),
        all,
      );
      orders.grants = listed.filter((g) => g.grantId.startsWith(prefix)).map((g) => g.grantId.slice(prefix.length));
      const retirable = await pageAll(
        (after) => store.listRetirableGrants(retiring, after, 3),
        (g) => g.grantId,
      );
      assert.deepEqual(
        retirable.map((g) => g.grantId),
        all,
      );

      const other2 = newGrant(key.keyId, { granteePrincipal: "arn:aws:iam::111122223333:role/other" });
      await store.createGrant(other2);
      assert.deepEqual(
        (await store.grantsFor(key.keyId, named.granteePrincipal)).map((g) => g.grantId).sort(byteOrder),
        all,
      );
      assert.deepEqual(await store.grantsFor(key.keyId, "arn:aws:iam::111122223333:role/other"), [other2]);

      assert.equal(await store.deleteGrant(named.grantId), true);
      assert.equal(await store.deleteGrant(named.grantId), false);
      assert.equal(await store.findGrantByName(key.keyId, "nightly"), undefined);
      assert.equal(await store.createGrant(newGrant(key.keyId, { name: "nightly" })), true);
    });

    describe("client keys", () => {
      const arn = `arn:aws:iam::111122223333:user/${randomUUID()}`;
      const prefix = `KAAP.${randomUUID()}`;
      const newClientKey = (keyId: string, principalArn = arn) => ({
        keyId,
        principalArn,
        publicKey: Buffer.from([0x30, 0x82, 0, 1, 0xff]),
        createdAt: new Date(T0),
      });
      before(() => store.putPrincipal({ arn, accountId: "111122223333", principalId: "AIDACLIENT" }));

      test("are created for known principals only, read back as written, and listed in id order", async () => {
        const clientKeys = ["b", "A", "a"].map((suffix) => newClientKey(`${prefix}${suffix}`));
        for (const clientKey of clientKeys) await store.createClientKey(clientKey);
        await assert.rejects(store.createClientKey(newClientKey(`${prefix}x`, `${arn}-none`)));
        await assert.rejects(store.createClientKey(newClientKey(`${prefix}A`)), "key ids are unique");
        const read = await store.getClientKey(`${prefix}A`);
        assert.deepEqual(read, clientKeys[1]);
        assert(Buffer.isBuffer(read?.publicKey));
        assert.equal(await store.getClientKey(`${prefix}none`), undefined);
        const ids = [`${prefix}A`, `${prefix}a`, `${prefix}b`];
        assert.deepEqual(
          (await store.listClientKeys(arn)).map((k) => k.keyId),
          ids,
        );
        assert.deepEqual(
          (await store.listClientKeys(null)).map((k) => k.keyId).filter((id) => id.startsWith(prefix)),
          ids,
        );
        assert.deepEqual(await store.listClientKeys(`${arn}-none`), []);
      });

      test("are deleted once, and the deletion is announced to other connections", async () => {
        const other =
          backend.name === "SQLite"
            ? new SqliteKeyStore(join(sqliteDir, "trent.db"))
            : await PostgresKeyStore.open(databaseUrl("conformance"));
        try {
          const keyId = `${prefix}deleted`;
          await store.createClientKey(newClientKey(keyId));
          assert.deepEqual(await other.getClientKey(keyId), newClientKey(keyId));
          // Lets the announcement of the insert arrive first, so only the deletion's can change it below.
          await new Promise((resolve) => setTimeout(resolve, 300));
          const before = other.changeMarker?.();
          assert.equal(await store.deleteClientKey(keyId), true);
          assert.equal(await store.deleteClientKey(keyId), false);
          assert.equal(await store.getClientKey(keyId), undefined);
          assert.equal(await other.getClientKey(keyId), undefined);
          // PostgreSQL announces it asynchronously, through the trigger on client_keys.
          const deadline = Date.now() + 5_000;
          while (other.changeMarker?.() === before && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          assert.notEqual(other.changeMarker?.(), before);
        } finally {
          await other.close();
        }
      });
    });
  });
}

test("SQLite and PostgreSQL list keys, aliases, tags and grants in the same order", { skip: postgresSkip }, () => {
  const [sqlite, postgresql] = [ordersSeen.get("SQLite"), ordersSeen.get("PostgreSQL")];
  assert(sqlite && postgresql);
  assert.equal(Object.keys(sqlite).length, 4);
  assert.deepEqual(postgresql, sqlite);
});

describe("PostgresKeyStore against a failing database", () => {
  test("a server that accepts connections but never answers fails with StoreUnavailableError in ~2 s", async () => {
    const silent = createServer(() => undefined).listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    try {
      await assert.rejects(PostgresKeyStore.open(`postgres://trent@127.0.0.1:${port}/trent`), StoreUnavailableError);
      assert(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    } finally {
      silent.close();
    }
  });
  test("nodes starting at once on a fresh database apply each migration once", { skip: postgresSkip }, async () => {
    await sql(databaseUrl("postgres"), "CREATE DATABASE fresh");
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresKeyStore.open(databaseUrl("fresh"))));
    await Promise.all(stores.map((store) => store.close()));
    const { rows } = await sql(databaseUrl("fresh"), "SELECT version FROM schema_migrations ORDER BY version");
    assert.deepEqual(
      rows.map((row) => row.version),
      POSTGRES_MIGRATIONS.map((_, index) => index + 1),
    );
  });

  test("a statement that outlasts the statement timeout fails with StoreUnavailableError", {
    skip: postgresSkip,
  }, async () => {
    const store = await PostgresKeyStore.open(databaseUrl("trent"), { statementTimeoutMs: 300 });
    const locker = new pg.Client(databaseUrl("trent"));
    await locker.connect();
    try {
      await locker.query("BEGIN; LOCK TABLE meta IN ACCESS EXCLUSIVE MODE");
      await assert.rejects(store.getMeta("x"), StoreUnavailableError);
      await locker.query("ROLLBACK");
      assert.equal(await store.getMeta("x"), undefined);
    } finally {
      await locker.end();
      await store.close();
    }
  });

  test("while PostgreSQL is down requests fail fast with StoreUnavailableError; afterwards they succeed", {
    skip: postgresSkip,
  }, async () => {
    assert(!(postgres instanceof Error));
    const store = await PostgresKeyStore.open(postgres.url);
    try {
      const key = newKey();
      await store.createKey(key, Buffer.from("m"), []);
      // Several pooled connections, idle when the server goes: their errors must not crash the process.
      await Promise.all(Array.from({ length: 5 }, () => store.getKey(key.keyId)));
      // Requests in flight while the server shuts down fail as unavailable too, and crash nothing.
      let halted = false;
      const unexpected: unknown[] = [];
      const load = (async () => {
        while (!halted) {
          await store.getKey(key.keyId).catch((error: unknown) => {
            if (!(error instanceof StoreUnavailableError)) unexpected.push(error);
          });
        }
      })();
      await postgres.halt();
      halted = true;
      await load;
      assert.deepEqual(unexpected, []);

      for (const request of [() => store.getKey(key.keyId), () => store.createKey(newKey(), Buffer.from("m"), [])]) {
        const started = Date.now();
        await assert.rejects(request(), StoreUnavailableError);
        assert(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
      }
      await assert.rejects(PostgresKeyStore.open(postgres.url), StoreUnavailableError);

      await postgres.resume();
      assert.deepEqual(await store.getKey(key.keyId), key);
    } finally {
      await store.close();
    }
  });
});
