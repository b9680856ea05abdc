import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { KeyState } from "@aws-sdk/client-kms";
import Database from "better-sqlite3";
import { type KeyMaterialVersion, type KmsKey, type RotationType, storeKeyId, type Tag } from "../../domain/key.js";
import { BackupStoreError, type BackupTable, type CellValue, type RowInserter, type StoreSnapshot } from "../backup.js";
import type { CustomKeyStoreTable } from "../custom-key-stores.js";
import type { ImportedMaterialStore } from "../imported-material-store.js";
import {
  type AccessKeyRow,
  type AliasRow,
  type ClientKeyRow,
  type GrantRow,
  KEY_CHANGE_COLUMNS,
  KEY_COLUMNS,
  type KeyMaterialRow,
  type KeyRow,
  type KeyUsageRow,
  keyRowValues,
  keyUsageValues,
  page,
  toAccessKey,
  toAlias,
  toClientKey,
  toGrant,
  toKey,
  toKeyMaterialVersion,
  toKeyUsage,
} from "../sql-rows.js";
import type {
  AccessKey,
  Alias,
  ClientKeyRecord,
  Grant,
  IdentityPolicy,
  IntegrityScan,
  KeyChanges,
  KeyRotation,
  KeyStore,
  KeyUsage,
  Page,
  Principal,
} from "../store.js";
import {
  type WrappedTable,
  type WrappedValue,
  wrappedValueCursor,
  wrappedValuePage,
  wrappedValueSql,
} from "../wrapped-values.js";
import { SqliteCustomKeyStores } from "./custom-key-store-sql.js";
import { SqliteImportedMaterial } from "./imported-material-sql.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";

/** The embedded default store: one SQLite file in WAL mode with fully synchronous commits. */
export class SqliteKeyStore implements KeyStore, IntegrityScan {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly keyUpdates = new Map<string, Database.Statement>();
  readonly importedMaterial: ImportedMaterialStore;
  readonly customKeyStores: CustomKeyStoreTable;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // FULL makes every acknowledged commit survive power loss, not just a process crash.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    this.importedMaterial = new SqliteImportedMaterial(this.db);
    this.customKeyStores = new SqliteCustomKeyStores(this.db);
    const db = this.db;
    this.statements = {
      dataVersion: db.prepare("PRAGMA data_version").pluck(),
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE name = ?"),
      setMeta: db.prepare(
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      ),
      initMeta: db.prepare("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
      insertKey: db.prepare(
        `INSERT INTO keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map((column) => `:${column}`).join(", ")})`,
      ),
      insertMaterial: db.prepare(
        "INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type) VALUES (?, ?, ?, ?, ?)",
      ),
      advanceVersion: db.prepare(
        "UPDATE keys SET current_version = current_version + 1 WHERE key_id = ? AND current_version = ?",
      ),
      advanceDueVersion: db.prepare(
        `UPDATE keys SET current_version = current_version + 1, next_rotation_date = :next
         WHERE key_id = :key_id AND current_version = :from AND key_state = 'Enabled'
         AND rotation_period_days IS NOT NULL AND next_rotation_date <= :now`,
      ),
      listMaterial: db.prepare<[string, number, number], KeyMaterialRow>(
        `SELECT version, created_at, rotation_type FROM key_material WHERE key_id = ? AND version > ?
         ORDER BY version LIMIT ?`,
      ),
      countRotations: db
        .prepare<[string, string], number>("SELECT count(*) FROM key_material WHERE key_id = ? AND rotation_type = ?")
        .pluck(),
      dueForRotation: db.prepare<[number, number], { key_id: string }>(
        `SELECT key_id FROM keys WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= ?
         AND key_state = 'Enabled' AND rotation_period_days IS NOT NULL ORDER BY next_rotation_date LIMIT ?`,
      ),
      getKey: db.prepare<[string], KeyRow>("SELECT * FROM keys WHERE key_id = ?"),
      // The other regional copies of a multi-Region key's row.
      otherCopies: db.prepare<[string], { key_id: string }>(
        `SELECT other.key_id FROM keys AS this JOIN keys AS other
         ON other.multi_region_key_id = this.multi_region_key_id AND other.key_id <> this.key_id WHERE this.key_id = ?`,
      ),
      multiRegionKeys: db.prepare<[string], KeyRow>("SELECT * FROM keys WHERE multi_region_key_id = ? ORDER BY region"),
      copyMaterial: db.prepare(
        `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type)
         SELECT ?, version, wrapped, created_at, rotation_type FROM key_material WHERE key_id = ?`,
      ),
      setVersion: db.prepare("UPDATE keys SET current_version = ? WHERE key_id = ?"),
      setPrimaryRegion: db.prepare("UPDATE keys SET primary_region = ? WHERE multi_region_key_id = ?"),
      setRotation: db.prepare("UPDATE keys SET rotation_period_days = ?, next_rotation_date = ? WHERE key_id = ?"),
      // A primary waiting on its replicas starts its window once the last one is gone.
      replicasGone: db.prepare(
        `UPDATE keys SET key_state = 'PendingDeletion', deletion_date = :now + pending_window_days * 86400000
         WHERE multi_region_key_id = :mrk AND region = primary_region AND key_state = 'PendingReplicaDeletion'
         AND NOT EXISTS (SELECT 1 FROM keys AS replica WHERE replica.multi_region_key_id = :mrk
           AND replica.region <> replica.primary_region)`,
      ),
      listKeys: db.prepare<[string, string, string, number], KeyRow>(
        "SELECT * FROM keys WHERE account_id = ? AND region = ? AND key_id > ? ORDER BY key_id LIMIT ?",
      ),
      deleteKeyIfDue: db.prepare(
        "DELETE FROM keys WHERE key_id = ? AND key_state = 'PendingDeletion' AND deletion_date <= ?",
      ),
      dueForDeletion: db.prepare<[number], { key_id: string }>(
        "SELECT key_id FROM keys WHERE deletion_date IS NOT NULL AND deletion_date <= ? AND key_state = 'PendingDeletion'",
      ),
      recordKeyUsage: db.prepare(
        `INSERT INTO key_usage (key_id, operation, used_at, event_id, request_id)
         SELECT :keyId, :operation, :usedAt, :eventId, :requestId WHERE EXISTS (SELECT 1 FROM keys WHERE key_id = :keyId)
         ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
           event_id = excluded.event_id, request_id = excluded.request_id
         WHERE excluded.used_at >= key_usage.used_at`,
      ),
      getKeyUsage: db.prepare<[string], KeyUsageRow>("SELECT * FROM key_usage WHERE key_id = ?"),
      getMaterial: db.prepare<[string, number], { wrapped: Buffer }>(
        "SELECT wrapped FROM key_material WHERE key_id = ? AND version = ?",
      ),
      insertAlias: db.prepare(
        `INSERT INTO aliases VALUES (:account_id, :region, :alias_name, :target_key_id, :created_at, :updated_at)
         ON CONFLICT DO NOTHING`,
      ),
      getAlias: db.prepare<[string, string, string], AliasRow>(
        "SELECT * FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
      ),
      updateAlias: db.prepare(
        `UPDATE aliases SET target_key_id = :target_key_id, updated_at = :updated_at
         WHERE account_id = :account_id AND region = :region AND alias_name = :alias_name`,
      ),
      deleteAlias: db.prepare("DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?"),
      listAliases: db.prepare<[string, string, string, number], AliasRow>(
        "SELECT * FROM aliases WHERE account_id = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?",
      ),
      listAliasesForKey: db.prepare<[string, string, string, string, number], AliasRow>(
        `SELECT * FROM aliases WHERE account_id = ? AND region = ? AND target_key_id = ? AND alias_name > ?
         ORDER BY alias_name LIMIT ?`,
      ),
      putTag: db.prepare(
        `INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)
         ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
      ),
      tagKeys: db.prepare<[string], string>("SELECT tag_key FROM tags WHERE key_id = ?").pluck(),
      removeTag: db.prepare("DELETE FROM tags WHERE key_id = ? AND tag_key = ?"),
      listTags: db.prepare<[string, string, number], { tag_key: string; tag_value: string }>(
        "SELECT tag_key, tag_value FROM tags WHERE key_id = ? AND tag_key > ? ORDER BY tag_key LIMIT ?",
      ),
      putPrincipal: db.prepare(
        "INSERT INTO principals (arn, account_id, principal_id) VALUES (?, ?, ?) ON CONFLICT (arn) DO NOTHING",
      ),
      getPrincipal: db.prepare<[string], { arn: string; account_id: string; principal_id: string }>(
        "SELECT * FROM principals WHERE arn = ?",
      ),
      insertAccessKey: db.prepare("INSERT INTO access_keys VALUES (?, ?, ?, ?)"),
      getAccessKey: db.prepare<[string], AccessKeyRow>("SELECT * FROM access_keys WHERE access_key_id = ?"),
      listAccessKeys: db.prepare<[], AccessKeyRow>("SELECT * FROM access_keys ORDER BY access_key_id"),
      listAccessKeysOf: db.prepare<[string], AccessKeyRow>(
        "SELECT * FROM access_keys WHERE principal_arn = ? ORDER BY access_key_id",
      ),
      deleteAccessKey: db.prepare("DELETE FROM access_keys WHERE access_key_id = ?"),
      insertClientKey: db.prepare(
        "INSERT INTO client_keys (key_id, principal_arn, public_key, created_at) VALUES (?, ?, ?, ?)",
      ),
      getClientKey: db.prepare<[string], ClientKeyRow>("SELECT * FROM client_keys WHERE key_id = ?"),
      listClientKeys: db.prepare<[], ClientKeyRow>("SELECT * FROM client_keys ORDER BY key_id"),
      listClientKeysOf: db.prepare<[string], ClientKeyRow>(
        "SELECT * FROM client_keys WHERE principal_arn = ? ORDER BY key_id",
      ),
      deleteClientKey: db.prepare("DELETE FROM client_keys WHERE key_id = ?"),
      putIdentityPolicy: db.prepare(
        `INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES (?, ?, ?)
         ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document`,
      ),
      deleteIdentityPolicy: db.prepare("DELETE FROM identity_policies WHERE principal_arn = ? AND policy_name = ?"),
      listIdentityPolicies: db.prepare<[string], { principal_arn: string; policy_name: string; document: string }>(
        "SELECT * FROM identity_policies WHERE principal_arn = ? ORDER BY policy_name",
      ),
      insertGrant: db.prepare(
        `INSERT INTO grants VALUES (:grant_id, :key_id, :name, :grantee_principal, :retiring_principal,
         :issuing_account, :operations, :constraints, :created_at) ON CONFLICT DO NOTHING`,
      ),
      getGrant: db.prepare<[string], GrantRow>("SELECT * FROM grants WHERE grant_id = ?"),
      findGrantByName: db.prepare<[string, string], GrantRow>("SELECT * FROM grants WHERE key_id = ? AND name = ?"),
      listGrants: db.prepare<[string, string, number], GrantRow>(
        "SELECT * FROM grants WHERE key_id = ? AND grant_id > ? ORDER BY grant_id LIMIT ?",
      ),
      listRetirableGrants: db.prepare<[string, string, number], GrantRow>(
        "SELECT * FROM grants WHERE retiring_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?",
      ),
      grantsFor: db.prepare<[string, string], GrantRow>(
        "SELECT * FROM grants WHERE key_id = ? AND grantee_principal = ?",
      ),
      deleteGrant: db.prepare("DELETE FROM grants WHERE grant_id = ?"),
    };
  }

  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    SQLITE_MIGRATIONS.forEach((sql, index) => {
      const version = index + 1;
      if (version <= current) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${version}`);
      })();
    });
  }

  async getMeta(name: string): Promise<string | undefined> {
    return this.statements.getMeta.get(name)?.value;
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.statements.setMeta.run(name, value);
  }

  async initMeta(name: string, value: string): Promise<string> {
    this.statements.initMeta.run(name, value);
    return (this.statements.getMeta.get(name) as { value: string }).value;
  }

  async createKey(key: KmsKey, wrappedMaterial: Buffer | null, tags: readonly Tag[]): Promise<void> {
    const row = storeKeyId(key);
    this.db.transaction(() => {
      this.statements.insertKey.run(keyRowValues(key));
      if (wrappedMaterial !== null) {
        this.statements.insertMaterial.run(row, key.currentVersion, wrappedMaterial, key.createdAt.getTime(), null);
      }
      for (const tag of tags) this.statements.putTag.run(row, tag.TagKey, tag.TagValue);
    })();
  }

  async getKey(keyId: string): Promise<KmsKey | undefined> {
    const row = this.statements.getKey.get(keyId);
    return row && toKey(row);
  }

  async updateKey(keyId: string, changes: KeyChanges, onlyInStates?: readonly KeyState[]): Promise<boolean> {
    const params: Record<string, unknown> = { key_id: keyId };
    const assignments: string[] = [];
    for (const [field, column] of Object.entries(KEY_CHANGE_COLUMNS)) {
      if (!(field in changes)) continue;
      const value = changes[field as keyof KeyChanges];
      params[column] = value instanceof Date ? value.getTime() : (value ?? null);
      assignments.push(`${column} = :${column}`);
    }
    if (assignments.length === 0) return true;
    let sql = `UPDATE keys SET ${assignments.join(", ")} WHERE key_id = :key_id`;
    if (onlyInStates !== undefined) {
      onlyInStates.forEach((state, i) => {
        params[`state${i}`] = state;
      });
      sql += ` AND key_state IN (${onlyInStates.map((_, i) => `:state${i}`).join(", ")})`;
    }
    let statement = this.keyUpdates.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.keyUpdates.set(sql, statement);
    }
    return statement.run(params).changes === 1;
  }

  async listKeys(accountId: string, region: string, after: string | null, limit: number): Promise<Page<KmsKey>> {
    const rows = this.statements.listKeys.all(accountId, region, after ?? "", limit + 1);
    return page(rows.map(toKey), limit, storeKeyId);
  }

  async deleteKeyIfDue(keyId: string, now: Date): Promise<boolean> {
    return this.db
      .transaction(() => {
        const row = this.statements.getKey.get(keyId);
        if (row === undefined) return false;
        const multiRegion = row.multi_region_key_id;
        const primaryWithReplicas =
          multiRegion !== null && row.region === row.primary_region && this.statements.otherCopies.get(keyId);
        if (primaryWithReplicas) return false;
        if (this.statements.deleteKeyIfDue.run(keyId, now.getTime()).changes !== 1) return false;
        if (multiRegion !== null) this.statements.replicasGone.run({ now: now.getTime(), mrk: multiRegion });
        return true;
      })
      .immediate();
  }

  async keysDueForDeletion(now: Date): Promise<string[]> {
    return this.statements.dueForDeletion.all(now.getTime()).map((row) => row.key_id);
  }

  async getKeyMaterial(keyId: string, version: number): Promise<Buffer | undefined> {
    return this.statements.getMaterial.get(keyId, version)?.wrapped;
  }

  async recordKeyUsage(usages: readonly KeyUsage[]): Promise<void> {
    this.db.transaction(() => {
      for (const usage of usages) this.statements.recordKeyUsage.run(keyUsageValues(usage));
    })();
  }

  async getKeyUsage(keyId: string): Promise<KeyUsage | undefined> {
    const row = this.statements.getKeyUsage.get(keyId);
    return row && toKeyUsage(row);
  }

  async rotateKey(rotation: KeyRotation): Promise<boolean> {
    const { keyId, fromVersion, rotatedAt, nextRotationDate } = rotation;
    return this.db.transaction(() => {
      const advanced =
        nextRotationDate === undefined
          ? this.statements.advanceVersion.run(keyId, fromVersion)
          : this.statements.advanceDueVersion.run({
              key_id: keyId,
              from: fromVersion,
              now: rotatedAt.getTime(),
              next: nextRotationDate.getTime(),
            });
      if (advanced.changes !== 1) return false;
      // A multi-Region key's replicas get the new version in the same transaction.
      for (const row of [keyId, ...this.statements.otherCopies.all(keyId).map((copy) => copy.key_id)]) {
        if (row !== keyId) this.statements.setVersion.run(fromVersion + 1, row);
        this.statements.insertMaterial.run(
          row,
          fromVersion + 1,
          rotation.wrappedMaterial,
          rotatedAt.getTime(),
          rotation.rotationType,
        );
      }
      return true;
    })();
  }

  async replicateKey(replica: KmsKey, tags: readonly Tag[]): Promise<"created" | "exists" | "primary-unavailable"> {
    const primaryRow = storeKeyId({ keyId: replica.keyId, region: replica.primaryRegion as string });
    const row = storeKeyId(replica);
    return this.db
      .transaction(() => {
        const primary = this.statements.getKey.get(primaryRow);
        if (primary === undefined || primary.primary_region !== primary.region) return "primary-unavailable";
        if (primary.key_state !== "Enabled") return "primary-unavailable";
        if (this.statements.getKey.get(row) !== undefined) return "exists";
        this.statements.insertKey.run(keyRowValues({ ...replica, currentVersion: primary.current_version }));
        this.statements.copyMaterial.run(row, primaryRow);
        for (const tag of tags) this.statements.putTag.run(row, tag.TagKey, tag.TagValue);
        return "created";
      })
      .immediate();
  }

  async multiRegionKeys(keyId: string): Promise<KmsKey[]> {
    return this.statements.multiRegionKeys.all(keyId).map(toKey);
  }

  async updatePrimaryRegion(keyId: string, region: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const copies = this.statements.multiRegionKeys.all(keyId);
        const primary = copies.find((copy) => copy.region === copy.primary_region);
        const next = copies.find((copy) => copy.region === region);
        if (primary === undefined || next === undefined || primary === next) return false;
        if (primary.key_state !== "Enabled" || next.key_state !== "Enabled") return false;
        this.statements.setPrimaryRegion.run(region, keyId);
        this.statements.setRotation.run(primary.rotation_period_days, primary.next_rotation_date, next.key_id);
        this.statements.setRotation.run(null, null, primary.key_id);
        return true;
      })
      .immediate();
  }

  async listKeyMaterial(keyId: string, after: number, limit: number): Promise<Page<KeyMaterialVersion>> {
    const rows = this.statements.listMaterial.all(keyId, after, limit + 1);
    return page(rows.map(toKeyMaterialVersion), limit, (material) => String(material.version));
  }

  async countRotations(keyId: string, rotationType: RotationType): Promise<number> {
    return this.statements.countRotations.get(keyId, rotationType) as number;
  }

  async keysDueForRotation(now: Date, limit: number): Promise<string[]> {
    return this.statements.dueForRotation.all(now.getTime(), limit).map((row) => row.key_id);
  }

  async createAlias(alias: Alias): Promise<boolean> {
    return this.statements.insertAlias.run(aliasParams(alias)).changes === 1;
  }

  async getAlias(accountId: string, region: string, aliasName: string): Promise<Alias | undefined> {
    const row = this.statements.getAlias.get(accountId, region, aliasName);
    return row && toAlias(row);
  }

  async updateAlias(alias: Alias): Promise<void> {
    this.statements.updateAlias.run(aliasParams(alias));
  }

  async deleteAlias(accountId: string, region: string, aliasName: string): Promise<void> {
    this.statements.deleteAlias.run(accountId, region, aliasName);
  }

  async listAliases(
    accountId: string,
    region: string,
    targetKeyId: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<Alias>> {
    const rows =
      targetKeyId === null
        ? this.statements.listAliases.all(accountId, region, after ?? "", limit + 1)
        : this.statements.listAliasesForKey.all(
            accountId,
            region,
            storeKeyId({ keyId: targetKeyId, region }),
            after ?? "",
            limit + 1,
          );
    return page(rows.map(toAlias), limit, (alias) => alias.aliasName);
  }

  async putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        const keys = new Set(this.statements.tagKeys.all(keyId));
        for (const tag of tags) keys.add(tag.TagKey);
        if (keys.size > maxTags) return false;
        for (const tag of tags) this.statements.putTag.run(keyId, tag.TagKey, tag.TagValue);
        return true;
      })
      .immediate();
  }

  async removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const tagKey of tagKeys) this.statements.removeTag.run(keyId, tagKey);
    })();
  }

  async listTags(keyId: string, after: string | null, limit: number): Promise<Page<Tag>> {
    const rows = this.statements.listTags.all(keyId, after ?? "", limit + 1);
    const tags = rows.map((row) => ({ TagKey: row.tag_key, TagValue: row.tag_value }));
    return page(tags, limit, (tag) => tag.TagKey);
  }

  async putPrincipal(principal: Principal): Promise<void> {
    this.statements.putPrincipal.run(principal.arn, principal.accountId, principal.principalId);
  }

  async getPrincipal(arn: string): Promise<Principal | undefined> {
    const row = this.statements.getPrincipal.get(arn);
    return row && { arn: row.arn, accountId: row.account_id, principalId: row.principal_id };
  }

  async createAccessKey(accessKey: AccessKey): Promise<void> {
    this.statements.insertAccessKey.run(
      accessKey.accessKeyId,
      accessKey.principalArn,
      accessKey.wrappedSecret,
      accessKey.createdAt.getTime(),
    );
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const row = this.statements.getAccessKey.get(accessKeyId);
    return row && toAccessKey(row);
  }

  async listAccessKeys(principalArn: string | null): Promise<AccessKey[]> {
    const rows =
      principalArn === null ? this.statements.listAccessKeys.all() : this.statements.listAccessKeysOf.all(principalArn);
    return rows.map(toAccessKey);
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.statements.deleteAccessKey.run(accessKeyId).changes === 1;
  }

  async createClientKey(record: ClientKeyRecord): Promise<void> {
    this.statements.insertClientKey.run(
      record.keyId,
      record.principalArn,
      record.publicKey,
      record.createdAt.getTime(),
    );
  }

  async getClientKey(keyId: string): Promise<ClientKeyRecord | undefined> {
    const row = this.statements.getClientKey.get(keyId);
    return row && toClientKey(row);
  }

  async listClientKeys(principalArn: string | null): Promise<ClientKeyRecord[]> {
    const rows =
      principalArn === null ? this.statements.listClientKeys.all() : this.statements.listClientKeysOf.all(principalArn);
    return rows.map(toClientKey);
  }

  async deleteClientKey(keyId: string): Promise<boolean> {
    return this.statements.deleteClientKey.run(keyId).changes === 1;
  }

  async putIdentityPolicy(policy: IdentityPolicy): Promise<void> {
    this.statements.putIdentityPolicy.run(policy.principalArn, policy.policyName, policy.document);
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return this.statements.deleteIdentityPolicy.run(principalArn, policyName).changes === 1;
  }

  async listIdentityPolicies(principalArn: string): Promise<IdentityPolicy[]> {
    return this.statements.listIdentityPolicies.all(principalArn).map((row) => ({
      principalArn: row.principal_arn,
      policyName: row.policy_name,
      document: row.document,
    }));
  }

  async createGrant(grant: Grant): Promise<boolean> {
    return (
      this.statements.insertGrant.run({
        grant_id: grant.grantId,
        key_id: grant.keyId,
        name: grant.name,
        grantee_principal: grant.granteePrincipal,
        retiring_principal: grant.retiringPrincipal,
        issuing_account: grant.issuingAccount,
        operations: JSON.stringify(grant.operations),
        constraints: grant.constraints === null ? null : JSON.stringify(grant.constraints),
        created_at: grant.createdAt.getTime(),
      }).changes === 1
    );
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const row = this.statements.getGrant.get(grantId);
    return row && toGrant(row);
  }

  async findGrantByName(keyId: string, name: string): Promise<Grant | undefined> {
    const row = this.statements.findGrantByName.get(keyId, name);
    return row && toGrant(row);
  }

  async listGrants(keyId: string, after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = this.statements.listGrants.all(keyId, after ?? "", limit + 1);
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  async listRetirableGrants(retiringPrincipal: string, after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = this.statements.listRetirableGrants.all(retiringPrincipal, after ?? "", limit + 1);
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  async grantsFor(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    return this.statements.grantsFor.all(keyId, granteePrincipal).map(toGrant);
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return this.statements.deleteGrant.run(grantId).changes === 1;
  }

  async databaseProblems(): Promise<string[]> {
    const problems: string[] = [];
    try {
      for (const row of this.db.pragma("integrity_check") as { integrity_check: string }[]) {
        if (row.integrity_check !== "ok") problems.push(`SQLite integrity_check: ${row.integrity_check}`);
      }
    } catch (error) {
      // Damage bad enough that the check cannot walk the file is the check's answer too.
      problems.push(`SQLite integrity_check: ${(error as Error).message}`);
    }
    const orphans = this.db.pragma("foreign_key_check") as { table: string; rowid: number | null; parent: string }[];
    for (const row of orphans) {
      problems.push(
        `SQLite foreign_key_check: row ${row.rowid} of ${row.table} refers to a missing row of ${row.parent}`,
      );
    }
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version !== SQLITE_MIGRATIONS.length) {
      problems.push(`the schema is at version ${version}, this Trent expects ${SQLITE_MIGRATIONS.length}`);
    }
    return problems;
  }

  async scanKeys(after: string | null, limit: number): Promise<Page<KmsKey>> {
    const rows = this.db
      .prepare<[string, number], KeyRow>("SELECT * FROM keys WHERE key_id > ? ORDER BY key_id LIMIT ?")
      .all(after ?? "", limit + 1);
    return page(rows.map(toKey), limit, storeKeyId);
  }

  async scanAliases(after: string | null, limit: number): Promise<Page<Alias>> {
    const [account, region, name] = after === null ? ["", "", ""] : (JSON.parse(after) as [string, string, string]);
    const rows = this.db
      .prepare<[string, string, string, number], AliasRow>(
        `SELECT * FROM aliases WHERE (account_id, region, alias_name) > (?, ?, ?)
         ORDER BY account_id, region, alias_name LIMIT ?`,
      )
      .all(account, region, name, limit + 1);
    return page(rows.map(toAlias), limit, (alias) => JSON.stringify([alias.accountId, alias.region, alias.aliasName]));
  }

  async scanGrants(after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = this.db
      .prepare<[string, number], GrantRow>("SELECT * FROM grants WHERE grant_id > ? ORDER BY grant_id LIMIT ?")
      .all(after ?? "", limit + 1);
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  async scanWrappedValues(table: WrappedTable, after: string | null, limit: number): Promise<Page<WrappedValue>> {
    const sql = wrappedValueSql(table, () => "?");
    const rows =
      after === null
        ? this.db.prepare<unknown[], Record<string, unknown>>(sql.first).all(limit + 1)
        : this.db.prepare<unknown[], Record<string, unknown>>(sql.after).all(...wrappedValueCursor(after), limit + 1);
    return wrappedValuePage(table, rows, limit);
  }

  async replaceWrappedValue(value: WrappedValue, rewrapped: Buffer): Promise<boolean> {
    const { replace } = wrappedValueSql(value.table, () => "?");
    return this.db.prepare(replace).run(rewrapped, ...value.rowKey, value.wrapped).changes === 1;
  }

  /** BackupSource: on a read-only connection of its own, so this one's writers carry on meanwhile (WAL). */
  async readSnapshot<T>(read: (snapshot: StoreSnapshot) => Promise<T>): Promise<T> {
    const reader = new Database(this.db.name, { readonly: true, fileMustExist: true });
    try {
      reader.pragma("busy_timeout = 5000");
      reader.exec("BEGIN");
      // The transaction's first read, this one, fixes the snapshot every later read sees.
      const version = reader.pragma("user_version", { simple: true }) as number;
      const result = await read({
        schema: { store: "sqlite", version },
        tables: async () => {
          const columns = reader
            .prepare<[], { table_name: string; column_name: string }>(
              `SELECT m.name AS table_name, c.name AS column_name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c
               WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, c.cid`,
            )
            .all();
          const tables = new Map<string, string[]>();
          for (const { table_name, column_name } of columns) {
            tables.set(table_name, [...(tables.get(table_name) ?? []), column_name]);
          }
          return tables;
        },
        rows: async function* (table: BackupTable) {
          const columns = table.columns.map((column) => column.name).join(", ");
          const select = `SELECT ${columns} FROM ${table.name} ORDER BY ${table.primaryKey.join(", ")}`;
          yield* reader.prepare(select).raw().iterate() as IterableIterator<CellValue[]>;
        },
      });
      reader.exec("COMMIT");
      return result;
    } finally {
      reader.close();
    }
  }

  /** RestoreTarget, for `trent restore`: nothing else may use this store until it resolves. */
  async restoreRows(tables: readonly BackupTable[], write: (insert: RowInserter) => Promise<void>): Promise<void> {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const table of tables) {
        if (this.db.prepare(`SELECT EXISTS (SELECT 1 FROM ${table.name})`).pluck().get()) {
          throw new BackupStoreError(`the store already holds data (in ${table.name}): restore only into an empty one`);
        }
      }
      const inserts = new Map<string, Database.Statement>();
      await write(async (table, columns, row) => {
        const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
        let insert = inserts.get(sql);
        if (insert === undefined) {
          insert = this.db.prepare(sql);
          inserts.set(sql, insert);
        }
        insert.run(...row);
      });
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  changeMarker(): number {
    // data_version changes when another connection (another process, e.g. the admin CLI) commits.
    return this.statements.dataVersion.get() as number;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function aliasParams(alias: Alias) {
  return {
    account_id: alias.accountId,
    region: alias.region,
    alias_name: alias.aliasName,
    target_key_id: storeKeyId({ keyId: alias.targetKeyId, region: alias.region }),
    created_at: alias.createdAt.getTime(),
    updated_at: alias.lastUpdatedAt.getTime(),
  };
}
