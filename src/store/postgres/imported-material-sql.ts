import type pg from "pg";
import {
  IMPORTED_MATERIAL_SQL,
  type ImportedKeyMaterialRow,
  importParams,
  materialParams,
  toExpiredKeyMaterial,
  toImportedKeyMaterial,
} from "../imported-material-sql.js";
import type {
  ExpiredKeyMaterial,
  ImportedKeyMaterial,
  ImportedMaterialStore,
  KeyMaterialImport,
} from "../imported-material-store.js";
import { type NamedStatement, named } from "./named-parameters.js";

type Rows = <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<R[]>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

const SQL = Object.fromEntries(
  Object.entries(IMPORTED_MATERIAL_SQL).map(([name, sql]) => [name, named(sql)]),
) as Record<keyof typeof IMPORTED_MATERIAL_SQL, NamedStatement>;
const LOCK_KEY = named(`${IMPORTED_MATERIAL_SQL.keyState} FOR UPDATE`);

/** One statement in a transaction, with its parameters by name. */
function run<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  statement: NamedStatement,
  params: Readonly<Record<string, unknown>>,
): Promise<pg.QueryResult<R>> {
  return client.query<R>(statement.text, statement.values(params));
}

/**
 * The PostgreSQL half of ImportedMaterialStore. Every write locks the key's row first, so writes
 * to one key's materials (and its rotations) from any node follow one another.
 */
export class PostgresImportedMaterial implements ImportedMaterialStore {
  constructor(
    private readonly rows: Rows,
    private readonly transaction: Transaction,
  ) {}

  async listImportedKeyMaterial(storeKeyId: string): Promise<ImportedKeyMaterial[]> {
    const rows = await this.rows<ImportedKeyMaterialRow>(SQL.list.text, SQL.list.values({ key_id: storeKeyId }));
    return rows.map(toImportedKeyMaterial);
  }

  async importKeyMaterial(write: KeyMaterialImport): Promise<boolean> {
    const params = importParams(write);
    const key = { key_id: params.key_id, version: params.version };
    return this.transaction(async (client) => {
      const state = await lockKey(client, params.key_id);
      if (state !== "PendingImport" && state !== "Enabled") return false;
      const written = await run(client, write.mode === "new" ? SQL.insert : SQL.reimport, params);
      if (written.rowCount !== 1) return false;
      const rotation = await run<{ rotation_type: string | null; rotated_at: string | null }>(
        client,
        SQL.rotationOf,
        key,
      );
      await run(client, SQL.putMaterial, materialParams(write, rotation.rows[0]));
      await run(client, SQL.summary, key);
      return true;
    });
  }

  async deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date): Promise<boolean> {
    const key = { key_id: storeKeyId, version };
    return this.transaction(async (client) => {
      if ((await lockKey(client, storeKeyId)) === undefined) return false;
      const changed = await run(client, SQL.unimport, { ...key, expired_by: expiredBy?.getTime() ?? null });
      if (changed.rowCount !== 1) return false;
      await run(client, SQL.deleteMaterial, key);
      await run(client, SQL.forgetPending, key);
      await run(client, SQL.summary, key);
      return true;
    });
  }

  async importedKeyMaterialDue(now: Date, limit: number): Promise<ExpiredKeyMaterial[]> {
    const due = await this.rows<{ key_id: string; version: number }>(
      SQL.due.text,
      SQL.due.values({ now: now.getTime(), limit }),
    );
    return due.map(toExpiredKeyMaterial);
  }

  async rotateToImportedKeyMaterial(
    storeKeyId: string,
    fromVersion: number,
    toVersion: number,
    at: Date,
  ): Promise<boolean> {
    const rotated = { key_id: storeKeyId, version: toVersion, at: at.getTime() };
    return this.transaction(async (client) => {
      const advanced = await run(client, SQL.advance, { key_id: storeKeyId, from: fromVersion, to: toVersion });
      if (advanced.rowCount !== 1) return false;
      await run(client, SQL.markRotated, rotated);
      await run(client, SQL.markMaterialRotated, rotated);
      await run(client, SQL.summary, rotated);
      return true;
    });
  }

  async refreshImportState(storeKeyId: string): Promise<void> {
    await this.rows(SQL.summary.text, SQL.summary.values({ key_id: storeKeyId }));
  }
}

async function lockKey(client: pg.PoolClient, storeKeyId: string): Promise<string | undefined> {
  const locked = await run<{ key_state: string }>(client, LOCK_KEY, { key_id: storeKeyId });
  return locked.rows[0]?.key_state;
}
