import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KmsKey } from "../../src/domain/key.js";
import { CachingKeyStore } from "../../src/store/caching-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import { testKey } from "../support/services.js";

let dir: string;
let writer: SqliteKeyStore;
let reader: SqliteKeyStore;

function key(keyId: string): KmsKey {
  return testKey({ keyId });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "trent-cache-"));
  writer = new SqliteKeyStore(join(dir, "trent.db"));
  reader = new SqliteKeyStore(join(dir, "trent.db"));
});

after(async () => {
  await writer.close();
  await reader.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a write through the cache is seen by the next read at once", async () => {
  const cache = new CachingKeyStore(reader, { ttlMs: 60_000, maxEntries: 100 });
  await cache.createKey(key("k-own-write"), Buffer.alloc(1), []);
  assert.equal((await cache.getKey("k-own-write"))?.keyState, "Enabled");
  await cache.updateKey("k-own-write", { keyState: "Disabled" });
  assert.equal((await cache.getKey("k-own-write"))?.keyState, "Disabled");
});

test("a change committed by another connection (the admin CLI, another process) drops the cache", async () => {
  const cache = new CachingKeyStore(reader, { ttlMs: 60_000, maxEntries: 100 });
  await writer.createKey(key("k-elsewhere"), Buffer.alloc(1), []);
  assert.equal((await cache.getKey("k-elsewhere"))?.keyState, "Enabled");
  await writer.updateKey("k-elsewhere", { keyState: "Disabled" });
  await sleep(2); // the cache asks the store for changes at most once per millisecond
  assert.equal((await cache.getKey("k-elsewhere"))?.keyState, "Disabled");
});

test("without a change marker, entries expire after their lifetime", async () => {
  const withoutMarker = Object.assign(Object.create(Object.getPrototypeOf(reader)), reader) as SqliteKeyStore;
  Object.defineProperty(withoutMarker, "changeMarker", { value: undefined });
  const cache = new CachingKeyStore(withoutMarker, { ttlMs: 100, maxEntries: 100 });
  await writer.createKey(key("k-ttl"), Buffer.alloc(1), []);
  assert.equal((await cache.getKey("k-ttl"))?.keyState, "Enabled");
  await writer.updateKey("k-ttl", { keyState: "Disabled" });
  assert.equal((await cache.getKey("k-ttl"))?.keyState, "Enabled", "served from memory within its lifetime");
  await sleep(150);
  assert.equal((await cache.getKey("k-ttl"))?.keyState, "Disabled");
});

test("a write returns only after afterWrite (the siblings' cache drop) has finished", async () => {
  const events: string[] = [];
  const cache = new CachingKeyStore(reader, {
    ttlMs: 60_000,
    maxEntries: 100,
    afterWrite: async () => {
      events.push("siblings told");
      await sleep(20);
      events.push("siblings dropped");
    },
  });
  await cache.createKey(key("k-siblings"), Buffer.alloc(1), []);
  events.push("create returned");
  await cache.updateKey("k-siblings", { keyState: "Disabled" });
  events.push("update returned");
  assert.deepEqual(events, [
    "siblings told",
    "siblings dropped",
    "create returned",
    "siblings told",
    "siblings dropped",
    "update returned",
  ]);
});

test("dropAll forgets what was cached, so a sibling's write is read from the store", async () => {
  const withoutMarker = Object.assign(Object.create(Object.getPrototypeOf(reader)), reader) as SqliteKeyStore;
  Object.defineProperty(withoutMarker, "changeMarker", { value: undefined });
  const cache = new CachingKeyStore(withoutMarker, { ttlMs: 60_000, maxEntries: 100 });
  await writer.createKey(key("k-drop-all"), Buffer.alloc(1), []);
  assert.equal((await cache.getKey("k-drop-all"))?.keyState, "Enabled");
  await writer.updateKey("k-drop-all", { keyState: "Disabled" });
  assert.equal((await cache.getKey("k-drop-all"))?.keyState, "Enabled", "still cached");
  cache.dropAll();
  assert.equal((await cache.getKey("k-drop-all"))?.keyState, "Disabled");
});

test("an import of key material through the cache drops the key it enabled; other methods reach the store", async () => {
  const cache = new CachingKeyStore(reader, { ttlMs: 60_000, maxEntries: 100 });
  const pending = testKey({ keyId: "k-import", origin: "EXTERNAL", keyState: "PendingImport" });
  await cache.createKey(pending, null, []);
  assert.equal((await cache.getKey("k-import"))?.keyState, "PendingImport");
  const imported = await cache.importedMaterial.importKeyMaterial({
    storeKeyId: "k-import",
    mode: "new",
    version: 1,
    fingerprint: Buffer.alloc(32, 1),
    description: undefined,
    expirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    validTo: null,
    wrappedMaterial: Buffer.alloc(1),
    importedAt: new Date(),
  });
  assert.equal(imported, true);
  assert.equal((await cache.getKey("k-import"))?.keyState, "Enabled");
  assert.equal((await cache.importedMaterial.listImportedKeyMaterial("k-import")).length, 1);
  assert.ok(
    (await cache.listKeys(pending.accountId, pending.region, null, 100)).items.some((k) => k.keyId === "k-import"),
  );
});
