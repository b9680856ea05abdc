import type { KeyState } from "@aws-sdk/client-kms";
import pg from "pg";
import { ValidationException } from "../../domain/errors.js";
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
import { StoreUnavailableError } from "../store-errors.js";
import {
  type WrappedTable,
  type WrappedValue,
  wrappedValueCursor,
  wrappedValuePage,
  wrappedValueSql,
} from "../wrapped-values.js";
import { isConnectionFailure } from "./connection-failure.js";
import { PostgresCustomKeyStores } from "./custom-key-store-sql.js";
import { PostgresImportedMaterial } from "./imported-material-sql.js";
import { migrate, POSTGRES_MIGRATIONS } from "./migrations.js";

export interface PostgresStoreOptions {
  /** The most connections this node holds; default 10. */
  readonly maxConnections?: number;
  /** How long one statement may run before it fails with StoreUnavailableError; default 5 s. */
  readonly statementTimeoutMs?: number;
}

const CONNECT_TIMEOUT_MS = 2_000;
const STATEMENT_TIMEOUT_MS = 5_000;
/** Rows per INSERT when restoring a backup: well under PostgreSQL's 65,535 parameters per statement. */
const RESTORE_BATCH_ROWS = 500;

const PUT_TAGS = `INSERT INTO tags (key_id, tag_key, tag_value) SELECT $1, * FROM unnest($2::text[], $3::text[])
  ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`;

/** The other regional copies of a multi-Region key's row ($1). */
const OTHER_COPIES = `SELECT other.key_id FROM keys AS this JOIN keys AS other
  ON other.multi_region_key_id = this.multi_region_key_id AND other.key_id <> this.key_id WHERE this.key_id = $1`;

/** One statement may not set a row twice, so the last value given for a tag key wins, as in a loop. */
function putTagsParams(keyId: string, tags: readonly Tag[]): [string, string[], string[]] {
  const byKey = new Map(tags.map((tag) => [tag.TagKey, tag.TagValue]));
  return [keyId, [...byKey.keys()], [...byKey.values()]];
}

/** PostgreSQL's text cannot hold U+0000 (SQLite's can): such a value is the caller's bad input, not a fault. */
const UNSTORABLE_TEXT = new Set(["22021", "22P05"]);

function storeError(error: unknown): unknown {
  if (UNSTORABLE_TEXT.has((error as { code?: unknown }).code as string)) {
    return new ValidationException(
      "1 validation error detected: text values cannot contain the NUL character (U+0000)",
    );
  }
  if (!isConnectionFailure(error)) return error;
  return new StoreUnavailableError(`PostgreSQL is unavailable: ${(error as Error).message}`, { cause: error });
}

/**
 * The store for several Trent nodes on one PostgreSQL database. Same semantics as the SQLite
 * store; when the database is unreachable or slow, methods fail fast with StoreUnavailableError,
 * and the pool reconnects by itself once it is back.
 */
export class PostgresKeyStore implements KeyStore, IntegrityScan {
  private generation = 0;
  private listener: pg.Client | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private closed = false;
  readonly importedMaterial: ImportedMaterialStore = new PostgresImportedMaterial(
    (sql, params) => this.rows(sql, params),
    (work) => this.transaction(work),
  );
  readonly customKeyStores: CustomKeyStoreTable = new PostgresCustomKeyStores(
    (sql, params) => this.query(sql, params),
    (work) => this.transaction(work),
  );

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  /**
   * Bumped by every change announced on trent_changes (by any node). While the listening
   * connection is down, it changes on every call, so that callers cache nothing.
   */
  changeMarker(): number {
    if (this.listener === null) this.generation++;
    return this.generation;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    const lost = () => {
      if (this.listener === client) this.listener = null;
      client.end().catch(() => undefined);
      if (!this.closed && this.reconnect === null) {
        this.reconnect = setTimeout(() => {
          this.reconnect = null;
          this.listen().catch(() => undefined);
        }, 1_000);
        this.reconnect.unref();
      }
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", () => {
      this.generation++;
    });
    try {
      await client.connect();
      await client.query("LISTEN trent_changes");
      this.generation++;
      this.listener = client;
    } catch {
      lost();
    }
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresKeyStore> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await migrate(client);
    } catch (error) {
      throw storeError(error);
    } finally {
      await client.end().catch(() => undefined);
    }
    const statementTimeout = options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;
    const pool = new pg.Pool({
      connectionString: url,
      application_name: "trent",
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: statementTimeout,
      // The client-side backstop for a server that stops answering altogether.
      query_timeout: statementTimeout + 1_000,
      // A node that dies mid-transaction without a TCP reset must not hold its row locks for hours.
      idle_in_transaction_session_timeout: statementTimeout * 2,
      keepAlive: true,
    });
    // An idle connection dropped (server restart, network): the pool discards it, and the next
    // request reconnects or fails with StoreUnavailableError. Unheard, the event would crash the process.
    pool.on("error", () => undefined);
    const store = new PostgresKeyStore(pool, url);
    await store.listen();
    return store;
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw storeError(error);
    }
  }

  private async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    return (await this.query<R>(sql, params)).rows;
  }

  private async changed(sql: string, params: unknown[]): Promise<boolean> {
    return (await this.query(sql, params)).rowCount === 1;
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    // A connection that drops while checked out emits "error" (the pending query rejects as well).
    const ignore = () => undefined;
    client.on("error", ignore);
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      broken = isConnectionFailure(error);
      // On a dead or hung connection a ROLLBACK would wait out another timeout; the discarded
      // connection's transaction is aborted by the server anyway.
      if (!broken) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
      }
      throw storeError(error);
    } finally {
      client.off("error", ignore);
      client.release(broken);
    }
  }

  async getMeta(name: string): Promise<string | undefined> {
    const rows = await this.rows<{ value: string }>("SELECT value FROM meta WHERE name = $1", [name]);
    return rows[0]?.value;
  }

  async setMeta(name: string, value: string): Promise<void> {
    await this.query(
      "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      [name, value],
    );
  }

  async initMeta(name: string, value: string): Promise<string> {
    // DO UPDATE rather than DO NOTHING so that RETURNING yields the row a concurrent insert won with.
    const rows = await this.rows<{ value: string }>(
      "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = meta.value RETURNING value",
      [name, value],
    );
    return (rows[0] as { value: string }).value;
  }

  async createKey(key: KmsKey, wrappedMaterial: Buffer | null, tags: readonly Tag[]): Promise<void> {
    await this.transaction(async (client) => {
      const row = keyRowValues(key);
      await client.query(
        `INSERT INTO keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`,
        KEY_COLUMNS.map((column) => row[column]),
      );
      if (wrappedMaterial !== null) {
        await client.query(
          "INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type) VALUES ($1, $2, $3, $4, NULL)",
          [row.key_id, key.currentVersion, wrappedMaterial, key.createdAt.getTime()],
        );
      }
      if (tags.length > 0) await client.query(PUT_TAGS, putTagsParams(row.key_id as string, tags));
    });
  }

  async getKey(keyId: string): Promise<KmsKey | undefined> {
    const rows = await this.rows<KeyRow>("SELECT * FROM keys WHERE key_id = $1", [keyId]);
    return rows[0] && toKey(rows[0]);
  }

  async updateKey(keyId: string, changes: KeyChanges, onlyInStates?: readonly KeyState[]): Promise<boolean> {
    const params: unknown[] = [keyId];
    const assignments: string[] = [];
    for (const [field, column] of Object.entries(KEY_CHANGE_COLUMNS)) {
      if (!(field in changes)) continue;
      const value = changes[field as keyof KeyChanges];
      params.push(value instanceof Date ? value.getTime() : (value ?? null));
      assignments.push(`${column} = $${params.length}`);
    }
    if (assignments.length === 0) return true;
    let sql = `UPDATE keys SET ${assignments.join(", ")} WHERE key_id = $1`;
    if (onlyInStates !== undefined) {
      params.push(onlyInStates);
      sql += ` AND key_state = ANY($${params.length}::text[])`;
    }
    return this.changed(sql, params);
  }

  async listKeys(accountId: string, region: string, after: string | null, limit: number): Promise<Page<KmsKey>> {
    const rows = await this.rows<KeyRow>(
      "SELECT * FROM keys WHERE account_id = $1 AND region = $2 AND key_id > $3 ORDER BY key_id LIMIT $4",
      [accountId, region, after ?? "", limit + 1],
    );
    return page(rows.map(toKey), limit, storeKeyId);
  }

  async deleteKeyIfDue(keyId: string, now: Date): Promise<boolean> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<KeyRow>("SELECT * FROM keys WHERE key_id = $1", [keyId]);
      const row = rows[0];
      if (row === undefined) return false;
      const multiRegion = row.multi_region_key_id;
      if (multiRegion !== null) {
        // Changes to a multi-Region key's copies lock its primary's row first (as rotations do).
        await client.query("SELECT 1 FROM keys WHERE multi_region_key_id = $1 AND region = primary_region FOR UPDATE", [
          multiRegion,
        ]);
        if (row.region === row.primary_region && (await client.query(OTHER_COPIES, [keyId])).rowCount !== 0) {
          return false;
        }
      }
      const deleted = await client.query(
        "DELETE FROM keys WHERE key_id = $1 AND key_state = 'PendingDeletion' AND deletion_date <= $2",
        [keyId, now.getTime()],
      );
      if (deleted.rowCount !== 1) return false;
      if (multiRegion !== null) {
        // A primary waiting on its replicas starts its window once the last one is gone.
        await client.query(
          `UPDATE keys SET key_state = 'PendingDeletion', deletion_date = $2 + pending_window_days * 86400000::bigint
           WHERE multi_region_key_id = $1 AND region = primary_region AND key_state = 'PendingReplicaDeletion'
           AND NOT EXISTS (SELECT 1 FROM keys AS replica WHERE replica.multi_region_key_id = $1
             AND replica.region <> replica.primary_region)`,
          [multiRegion, now.getTime()],
        );
      }
      return true;
    });
  }

  async keysDueForDeletion(now: Date): Promise<string[]> {
    const rows = await this.rows<{ key_id: string }>(
      `SELECT key_id FROM keys WHERE deletion_date IS NOT NULL AND deletion_date <= $1
       AND key_state = 'PendingDeletion' ORDER BY key_id`,
      [now.getTime()],
    );
    return rows.map((row) => row.key_id);
  }

  async getKeyMaterial(keyId: string, version: number): Promise<Buffer | undefined> {
    const rows = await this.rows<{ wrapped: Buffer }>(
      "SELECT wrapped FROM key_material WHERE key_id = $1 AND version = $2",
      [keyId, version],
    );
    return rows[0]?.wrapped;
  }
  async recordKeyUsage(usages: readonly KeyUsage[]): Promise<void> {
    if (usages.length === 0) return;
    const values = usages.map(keyUsageValues);
    await this.query(
      `INSERT INTO key_usage (key_id, operation, used_at, event_id, request_id)
       SELECT u.key_id, u.operation, u.used_at, u.event_id, u.request_id
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
         AS u(key_id, operation, used_at, event_id, request_id)
       WHERE EXISTS (SELECT 1 FROM keys WHERE keys.key_id = u.key_id)
       ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
         event_id = excluded.event_id, request_id = excluded.request_id
       WHERE excluded.used_at >= key_usage.used_at`,
      [
        values.map((v) => v.keyId),
        values.map((v) => v.operation),
        values.map((v) => v.usedAt),
        values.map((v) => v.eventId),
        values.map((v) => v.requestId),
      ],
    );
  }

  async getKeyUsage(keyId: string): Promise<KeyUsage | undefined> {
    const rows = await this.rows<KeyUsageRow>("SELECT * FROM key_usage WHERE key_id = $1", [keyId]);
    return rows[0] && toKeyUsage(rows[0]);
  }

  async rotateKey(rotation: KeyRotation): Promise<boolean> {
    const { keyId, fromVersion, rotatedAt, nextRotationDate } = rotation;
    return this.transaction(async (client) => {
      // The row lock taken by this UPDATE makes a concurrent rotation on another node wait, then
      // find current_version moved on and update nothing.
      const advanced =
        nextRotationDate === undefined
          ? await client.query(
              "UPDATE keys SET current_version = current_version + 1 WHERE key_id = $1 AND current_version = $2",
              [keyId, fromVersion],
            )
          : await client.query(
              `UPDATE keys SET current_version = current_version + 1, next_rotation_date = $4
               WHERE key_id = $1 AND current_version = $2 AND key_state = 'Enabled'
               AND rotation_period_days IS NOT NULL AND next_rotation_date <= $3`,
              [keyId, fromVersion, rotatedAt.getTime(), nextRotationDate.getTime()],
            );
      if (advanced.rowCount !== 1) return false;
      // A multi-Region key's replicas get the new version in the same transaction.
      const { rows: copies } = await client.query<{ key_id: string }>(OTHER_COPIES, [keyId]);
      const rows = [keyId, ...copies.map((copy) => copy.key_id)];
      if (copies.length > 0) {
        await client.query("UPDATE keys SET current_version = $2 WHERE key_id = ANY($1::text[])", [
          rows.slice(1),
          fromVersion + 1,
        ]);
      }
      await client.query(
        `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type)
         SELECT row_id, $2, $3, $4, $5 FROM unnest($1::text[]) AS row_id`,
        [rows, fromVersion + 1, rotation.wrappedMaterial, rotatedAt.getTime(), rotation.rotationType],
      );
      return true;
    });
  }

  async replicateKey(replica: KmsKey, tags: readonly Tag[]): Promise<"created" | "exists" | "primary-unavailable"> {
    const primaryRow = storeKeyId({ keyId: replica.keyId, region: replica.primaryRegion as string });
    return this.transaction(async (client) => {
      // The primary's row lock keeps a rotation (or a deletion) from interleaving with the copy.
      const { rows } = await client.query<KeyRow>("SELECT * FROM keys WHERE key_id = $1 FOR UPDATE", [primaryRow]);
      const primary = rows[0];
      if (primary === undefined || primary.primary_region !== primary.region) return "primary-unavailable";
      if (primary.key_state !== "Enabled") return "primary-unavailable";
      const row = keyRowValues({ ...replica, currentVersion: primary.current_version });
      const inserted = await client.query(
        `INSERT INTO keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
         ON CONFLICT (key_id) DO NOTHING`,
        KEY_COLUMNS.map((column) => row[column]),
      );
      if (inserted.rowCount !== 1) return "exists";
      await client.query(
        `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type)
         SELECT $1, version, wrapped, created_at, rotation_type FROM key_material WHERE key_id = $2`,
        [row.key_id, primaryRow],
      );
      if (tags.length > 0) await client.query(PUT_TAGS, putTagsParams(row.key_id as string, tags));
      return "created";
    });
  }

  async multiRegionKeys(keyId: string): Promise<KmsKey[]> {
    const rows = await this.rows<KeyRow>("SELECT * FROM keys WHERE multi_region_key_id = $1 ORDER BY region", [keyId]);
    return rows.map(toKey);
  }

  async updatePrimaryRegion(keyId: string, region: string): Promise<boolean> {
    return this.transaction(async (client) => {
      await client.query("SELECT 1 FROM keys WHERE multi_region_key_id = $1 AND region = primary_region FOR UPDATE", [
        keyId,
      ]);
      const { rows: copies } = await client.query<KeyRow>(
        "SELECT * FROM keys WHERE multi_region_key_id = $1 ORDER BY key_id FOR UPDATE",
        [keyId],
      );
      const primary = copies.find((copy) => copy.region === copy.primary_region);
      const next = copies.find((copy) => copy.region === region);
      if (primary === undefined || next === undefined || primary === next) return false;
      if (primary.key_state !== "Enabled" || next.key_state !== "Enabled") return false;
      await client.query("UPDATE keys SET primary_region = $2 WHERE multi_region_key_id = $1", [keyId, region]);
      await client.query("UPDATE keys SET rotation_period_days = $2, next_rotation_date = $3 WHERE key_id = $1", [
        next.key_id,
        primary.rotation_period_days,
        primary.next_rotation_date,
      ]);
      await client.query("UPDATE keys SET rotation_period_days = NULL, next_rotation_date = NULL WHERE key_id = $1", [
        primary.key_id,
      ]);
      return true;
    });
  }

  async listKeyMaterial(keyId: string, after: number, limit: number): Promise<Page<KeyMaterialVersion>> {
    const rows = await this.rows<KeyMaterialRow>(
      `SELECT version, created_at, rotation_type FROM key_material WHERE key_id = $1 AND version > $2
       ORDER BY version LIMIT $3`,
      [keyId, after, limit + 1],
    );
    return page(rows.map(toKeyMaterialVersion), limit, (material) => String(material.version));
  }

  async countRotations(keyId: string, rotationType: RotationType): Promise<number> {
    const rows = await this.rows<{ count: string }>(
      "SELECT count(*) AS count FROM key_material WHERE key_id = $1 AND rotation_type = $2",
      [keyId, rotationType],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async keysDueForRotation(now: Date, limit: number): Promise<string[]> {
    const rows = await this.rows<{ key_id: string }>(
      `SELECT key_id FROM keys WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= $1
       AND key_state = 'Enabled' AND rotation_period_days IS NOT NULL ORDER BY next_rotation_date LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((row) => row.key_id);
  }

  async createAlias(alias: Alias): Promise<boolean> {
    return this.changed("INSERT INTO aliases VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING", [
      alias.accountId,
      alias.region,
      alias.aliasName,
      storeKeyId({ keyId: alias.targetKeyId, region: alias.region }),
      alias.createdAt.getTime(),
      alias.lastUpdatedAt.getTime(),
    ]);
  }

  async getAlias(accountId: string, region: string, aliasName: string): Promise<Alias | undefined> {
    const rows = await this.rows<AliasRow>(
      "SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3",
      [accountId, region, aliasName],
    );
    return rows[0] && toAlias(rows[0]);
  }

  async updateAlias(alias: Alias): Promise<void> {
    await this.query(
      `UPDATE aliases SET target_key_id = $4, updated_at = $5
       WHERE account_id = $1 AND region = $2 AND alias_name = $3`,
      [
        alias.accountId,
        alias.region,
        alias.aliasName,
        storeKeyId({ keyId: alias.targetKeyId, region: alias.region }),
        alias.lastUpdatedAt.getTime(),
      ],
    );
  }

  async deleteAlias(accountId: string, region: string, aliasName: string): Promise<void> {
    await this.query("DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3", [
      accountId,
      region,
      aliasName,
    ]);
  }

  async listAliases(
    accountId: string,
    region: string,
    targetKeyId: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<Alias>> {
    const rows = await this.rows<AliasRow>(
      `SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND ($3::text IS NULL OR target_key_id = $3)
       AND alias_name > $4 ORDER BY alias_name LIMIT $5`,
      [accountId, region, targetKeyId && storeKeyId({ keyId: targetKeyId, region }), after ?? "", limit + 1],
    );
    return page(rows.map(toAlias), limit, (alias) => alias.aliasName);
  }

  async putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<boolean> {
    let written = false;
    await this.transaction(async (client) => {
      // Locking the key row serializes concurrent TagResource calls on it, on every node.
      await client.query("SELECT 1 FROM keys WHERE key_id = $1 FOR UPDATE", [keyId]);
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM tags WHERE key_id = $1 AND NOT (tag_key = ANY($2::text[]))",
        [keyId, tags.map((tag) => tag.TagKey)],
      );
      if (Number(rows[0]?.n ?? 0) + new Set(tags.map((tag) => tag.TagKey)).size > maxTags) return;
      if (tags.length > 0) await client.query(PUT_TAGS, putTagsParams(keyId, tags));
      written = true;
    });
    return written;
  }

  async removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    await this.query("DELETE FROM tags WHERE key_id = $1 AND tag_key = ANY($2::text[])", [keyId, tagKeys]);
  }

  async listTags(keyId: string, after: string | null, limit: number): Promise<Page<Tag>> {
    const rows = await this.rows<{ tag_key: string; tag_value: string }>(
      "SELECT tag_key, tag_value FROM tags WHERE key_id = $1 AND tag_key > $2 ORDER BY tag_key LIMIT $3",
      [keyId, after ?? "", limit + 1],
    );
    const tags = rows.map((row) => ({ TagKey: row.tag_key, TagValue: row.tag_value }));
    return page(tags, limit, (tag) => tag.TagKey);
  }

  async putPrincipal(principal: Principal): Promise<void> {
    await this.query(
      "INSERT INTO principals (arn, account_id, principal_id) VALUES ($1, $2, $3) ON CONFLICT (arn) DO NOTHING",
      [principal.arn, principal.accountId, principal.principalId],
    );
  }

  async getPrincipal(arn: string): Promise<Principal | undefined> {
    const rows = await this.rows<{ arn: string; account_id: string; principal_id: string }>(
      "SELECT * FROM principals WHERE arn = $1",
      [arn],
    );
    const row = rows[0];
    return row && { arn: row.arn, accountId: row.account_id, principalId: row.principal_id };
  }

  async createAccessKey(accessKey: AccessKey): Promise<void> {
    await this.query("INSERT INTO access_keys VALUES ($1, $2, $3, $4)", [
      accessKey.accessKeyId,
      accessKey.principalArn,
      accessKey.wrappedSecret,
      accessKey.createdAt.getTime(),
    ]);
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const rows = await this.rows<AccessKeyRow>("SELECT * FROM access_keys WHERE access_key_id = $1", [accessKeyId]);
    return rows[0] && toAccessKey(rows[0]);
  }

  async listAccessKeys(principalArn: string | null): Promise<AccessKey[]> {
    const rows = await this.rows<AccessKeyRow>(
      "SELECT * FROM access_keys WHERE $1::text IS NULL OR principal_arn = $1 ORDER BY access_key_id",
      [principalArn],
    );
    return rows.map(toAccessKey);
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.changed("DELETE FROM access_keys WHERE access_key_id = $1", [accessKeyId]);
  }

  async createClientKey(record: ClientKeyRecord): Promise<void> {
    await this.query(
      "INSERT INTO client_keys (key_id, principal_arn, public_key, created_at) VALUES ($1, $2, $3, $4)",
      [record.keyId, record.principalArn, record.publicKey, record.createdAt.getTime()],
    );
  }

  async getClientKey(keyId: string): Promise<ClientKeyRecord | undefined> {
    const rows = await this.rows<ClientKeyRow>("SELECT * FROM client_keys WHERE key_id = $1", [keyId]);
    return rows[0] && toClientKey(rows[0]);
  }

  async listClientKeys(principalArn: string | null): Promise<ClientKeyRecord[]> {
    const rows = await this.rows<ClientKeyRow>(
      "SELECT * FROM client_keys WHERE $1::text IS NULL OR principal_arn = $1 ORDER BY key_id",
      [principalArn],
    );
    return rows.map(toClientKey);
  }

  async deleteClientKey(keyId: string): Promise<boolean> {
    return this.changed("DELETE FROM client_keys WHERE key_id = $1", [keyId]);
  }

  async putIdentityPolicy(policy: IdentityPolicy): Promise<void> {
    await this.query(
      `INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES ($1, $2, $3)
       ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document`,
      [policy.principalArn, policy.policyName, policy.document],
    );
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return this.changed("DELETE FROM identity_policies WHERE principal_arn = $1 AND policy_name = $2", [
      principalArn,
      policyName,
    ]);
  }

  async listIdentityPolicies(principalArn: string): Promise<IdentityPolicy[]> {
    const rows = await this.rows<{ principal_arn: string; policy_name: string; document: string }>(
      "SELECT * FROM identity_policies WHERE principal_arn = $1 ORDER BY policy_name",
      [principalArn],
    );
    return rows.map((row) => ({
      principalArn: row.principal_arn,
      policyName: row.policy_name,
      document: row.document,
    }));
  }

  async createGrant(grant: Grant): Promise<boolean> {
    return this.changed("INSERT INTO grants VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING", [
      grant.grantId,
      grant.keyId,
      grant.name,
      grant.granteePrincipal,
      grant.retiringPrincipal,
      grant.issuingAccount,
      JSON.stringify(grant.operations),
      grant.constraints === null ? null : JSON.stringify(grant.constraints),
      grant.createdAt.getTime(),
    ]);
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const rows = await this.rows<GrantRow>("SELECT * FROM grants WHERE grant_id = $1", [grantId]);
    return rows[0] && toGrant(rows[0]);
  }

  async findGrantByName(keyId: string, name: string): Promise<Grant | undefined> {
    const rows = await this.rows<GrantRow>("SELECT * FROM grants WHERE key_id = $1 AND name = $2", [keyId, name]);
    return rows[0] && toGrant(rows[0]);
  }

  async listGrants(keyId: string, after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = await this.rows<GrantRow>(
      "SELECT * FROM grants WHERE key_id = $1 AND grant_id > $2 ORDER BY grant_id LIMIT $3",
      [keyId, after ?? "", limit + 1],
    );
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  async listRetirableGrants(retiringPrincipal: string, after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = await this.rows<GrantRow>(
      "SELECT * FROM grants WHERE retiring_principal = $1 AND grant_id > $2 ORDER BY grant_id LIMIT $3",
      [retiringPrincipal, after ?? "", limit + 1],
    );
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  async grantsFor(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    const rows = await this.rows<GrantRow>(
      "SELECT * FROM grants WHERE key_id = $1 AND grantee_principal = $2 ORDER BY grant_id",
      [keyId, granteePrincipal],
    );
    return rows.map(toGrant);
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return this.changed("DELETE FROM grants WHERE grant_id = $1", [grantId]);
  }

  /**
   * PostgreSQL enforces references itself, so what can go wrong is what bypasses it: disabled
   * triggers, indexes or constraints left invalid, damaged pages. Each is looked for here, and
   * with the amcheck extension installed, every B-tree index is verified against its table.
   */
  async databaseProblems(): Promise<string[]> {
    const problems: string[] = [];
    const [schema] = await this.rows<{ version: number }>(
      "SELECT coalesce(max(version), 0) AS version FROM schema_migrations",
      [],
    );
    if (schema?.version !== POSTGRES_MIGRATIONS.length) {
      problems.push(`the schema is at version ${schema?.version}, this Trent expects ${POSTGRES_MIGRATIONS.length}`);
    }
    const foreignKeys = await this.rows<{ child: string; parent: string; columns: string[]; parentColumns: string[] }>(
      `SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
         ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.position) AS columns,
         ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.position)
           AS "parentColumns"
       FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
       ORDER BY c.conname`,
      [],
    );
    for (const key of foreignKeys) {
      const column = (name: string) => pg.escapeIdentifier(name);
      const present = key.columns.map((name) => `child.${column(name)} IS NOT NULL`).join(" AND ");
      const matches = key.columns
        .map((name, i) => `parent.${column(key.parentColumns[i] as string)} = child.${column(name)}`)
        .join(" AND ");
      const [orphans] = await this.rows<{ count: number }>(
        `SELECT count(*)::int AS count FROM ${key.child} AS child WHERE ${present}
         AND NOT EXISTS (SELECT 1 FROM ${key.parent} AS parent WHERE ${matches})`,
        [],
      );
      if (orphans !== undefined && orphans.count > 0) {
        problems.push(`${orphans.count} rows of ${key.child} refer to missing rows of ${key.parent}`);
      }
    }
    const broken = await this.rows<{ problem: string }>(
      `SELECT 'index ' || i.indexrelid::regclass::text || ' is not valid' AS problem
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND NOT (i.indisvalid AND i.indisready)
       UNION ALL
       SELECT 'constraint ' || conname || ' on ' || conrelid::regclass::text || ' is not validated'
       FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND NOT convalidated
       UNION ALL
       SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text || ' is disabled'
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND t.tgenabled = 'D'
       UNION ALL
       SELECT checksum_failures || ' data page checksum failures in this database'
       FROM pg_stat_database WHERE datname = current_database() AND checksum_failures > 0`,
      [],
    );
    problems.push(...broken.map((row) => row.problem));
    const [amcheck] = await this.rows<{ schema: string }>(
      "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'amcheck'",
      [],
    );
    if (amcheck !== undefined) {
      const indexes = await this.rows<{ index: string }>(
        `SELECT c.oid::regclass::text AS index FROM pg_class c JOIN pg_am am ON am.oid = c.relam
         WHERE c.relkind = 'i' AND am.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace`,
        [],
      );
      for (const { index } of indexes) {
        try {
          await this.query(`SELECT ${amcheck.schema}.bt_index_check($1::regclass, true)`, [index]);
        } catch (error) {
          if (error instanceof StoreUnavailableError) throw error;
          problems.push(`amcheck: index ${index}: ${(error as Error).message}`);
        }
      }
    }
    return problems;
  }

  async scanKeys(after: string | null, limit: number): Promise<Page<KmsKey>> {
    const rows = await this.rows<KeyRow>("SELECT * FROM keys WHERE key_id > $1 ORDER BY key_id LIMIT $2", [
      after ?? "",
      limit + 1,
    ]);
    return page(rows.map(toKey), limit, storeKeyId);
  }

  async scanAliases(after: string | null, limit: number): Promise<Page<Alias>> {
    const [account, region, name] = after === null ? ["", "", ""] : (JSON.parse(after) as [string, string, string]);
    const rows = await this.rows<AliasRow>(
      `SELECT * FROM aliases WHERE (account_id, region, alias_name) > ($1, $2, $3)
       ORDER BY account_id, region, alias_name LIMIT $4`,
      [account, region, name, limit + 1],
    );
    return page(rows.map(toAlias), limit, (alias) => JSON.stringify([alias.accountId, alias.region, alias.aliasName]));
  }

  async scanWrappedValues(table: WrappedTable, after: string | null, limit: number): Promise<Page<WrappedValue>> {
    const sql = wrappedValueSql(table, (index) => `$${index}`);
    const rows =
      after === null
        ? await this.rows<Record<string, unknown>>(sql.first, [limit + 1])
        : await this.rows<Record<string, unknown>>(sql.after, [...wrappedValueCursor(after), limit + 1]);
    return wrappedValuePage(table, rows, limit);
  }

  async replaceWrappedValue(value: WrappedValue, rewrapped: Buffer): Promise<boolean> {
    const { replace } = wrappedValueSql(value.table, (index) => `$${index}`);
    return this.changed(replace, [rewrapped, ...value.rowKey, value.wrapped]);
  }

  async scanGrants(after: string | null, limit: number): Promise<Page<Grant>> {
    const rows = await this.rows<GrantRow>("SELECT * FROM grants WHERE grant_id > $1 ORDER BY grant_id LIMIT $2", [
      after ?? "",
      limit + 1,
    ]);
    return page(rows.map(toGrant), limit, (grant) => grant.grantId);
  }

  /** BackupSource: one REPEATABLE READ READ ONLY transaction, so writers on any node carry on meanwhile. */
  async readSnapshot<T>(read: (snapshot: StoreSnapshot) => Promise<T>): Promise<T> {
    return this.transaction(async (client) => {
      await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      // The transaction's first query, this one, takes the snapshot every later query sees.
      const { rows } = await client.query<{ version: number }>(
        "SELECT coalesce(max(version), 0)::integer AS version FROM schema_migrations",
      );
      return read({
        schema: { store: "postgres", version: rows[0]?.version ?? 0 },
        tables: async () => {
          const { rows: columns } = await client.query<{ table_name: string; column_name: string }>(
            `SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'
             ORDER BY table_name, ordinal_position`,
          );
          const tables = new Map<string, string[]>();
          for (const { table_name, column_name } of columns) {
            tables.set(table_name, [...(tables.get(table_name) ?? []), column_name]);
          }
          return tables;
        },
        rows: async function* (table: BackupTable) {
          const columns = table.columns.map((column) => column.name).join(", ");
          await client.query(
            `DECLARE backup_rows NO SCROLL CURSOR FOR
             SELECT ${columns} FROM ${table.name} ORDER BY ${table.primaryKey.join(", ")}`,
          );
          for (;;) {
            const batch = await client.query<CellValue[]>({ text: "FETCH 1000 FROM backup_rows", rowMode: "array" });
            if (batch.rows.length === 0) break;
            yield* batch.rows;
          }
          await client.query("CLOSE backup_rows");
        },
      });
    });
  }

  /** RestoreTarget: one transaction, inserting up to RESTORE_BATCH_ROWS rows per statement. */
  async restoreRows(tables: readonly BackupTable[], write: (insert: RowInserter) => Promise<void>): Promise<void> {
    await this.transaction(async (client) => {
      for (const table of tables) {
        const { rows } = await client.query<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${table.name}) AS found`);
        if (rows[0]?.found) {
          throw new BackupStoreError(
            `the database already holds data (in ${table.name}): restore only into an empty one`,
          );
        }
      }
      let batch: { into: string; width: number; values: CellValue[] } | undefined;
      const flush = async () => {
        if (batch === undefined) return;
        const { into, width, values } = batch;
        batch = undefined;
        const tuples = Array.from(
          { length: values.length / width },
          (_, row) => `(${Array.from({ length: width }, (_, column) => `$${row * width + column + 1}`).join(", ")})`,
        );
        await client.query(`${into} VALUES ${tuples.join(", ")}`, values);
      };
      await write(async (table, columns, row) => {
        const into = `INSERT INTO ${table} (${columns.join(", ")})`;
        if (batch !== undefined && (batch.into !== into || batch.values.length >= RESTORE_BATCH_ROWS * batch.width)) {
          await flush();
        }
        batch ??= { into, width: columns.length, values: [] };
        batch.values.push(...row);
      });
      await flush();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
