import type pg from "pg";
import { IMPORT_SUMMARY_SQL, type ImportedKeyMaterialRow, toImportedKeyMaterial } from "../imported-material-sql.js";
import type {
  ExpiredKeyMaterial,
  ImportedKeyMaterial,
  ImportedMaterialStore,
  KeyMaterialImport,
} from "../imported-material-store.js";

type Rows = <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<R[]>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

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
    const rows = await this.rows<ImportedKeyMaterialRow>(
      "SELECT * FROM imported_key_material WHERE key_id = $1 ORDER BY version",
      [storeKeyId],
    );
    return rows.map(toImportedKeyMaterial);
  }

  async importKeyMaterial(write: KeyMaterialImport): Promise<boolean> {
    const keyId = write.storeKeyId;
    return this.transaction(async (client) => {
      const state = await lockKey(client, keyId);
      if (state !== "PendingImport" && state !== "Enabled") return false;
      const validTo = write.validTo?.getTime() ?? null;
      const at = write.importedAt.getTime();
      if (write.mode === "new") {
        const inserted = await client.query(
          `INSERT INTO imported_key_material (key_id, version, fingerprint, description, imported, expiration_model,
             valid_to, imported_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [keyId, write.version, write.fingerprint, write.description ?? null, write.expirationModel, validTo, at],
        );
        if (inserted.rowCount !== 1) return false;
      } else {
        const updated = await client.query(
          `UPDATE imported_key_material SET imported = 1, expiration_model = $4, valid_to = $5, imported_at = $6,
             description = coalesce($7, description)
           WHERE key_id = $1 AND version = $2 AND fingerprint = $3`,
          [keyId, write.version, write.fingerprint, write.expirationModel, validTo, at, write.description ?? null],
        );
        if (updated.rowCount !== 1) return false;
      }
      const rotation = await client.query<{ rotation_type: string | null; rotated_at: string | null }>(
        "SELECT rotation_type, rotated_at FROM imported_key_material WHERE key_id = $1 AND version = $2",
        [keyId, write.version],
      );
      const rotated = rotation.rows[0];
      await client.query(
        `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key_id, version) DO UPDATE SET wrapped = excluded.wrapped`,
        [keyId, write.version, write.wrappedMaterial, rotated?.rotated_at ?? at, rotated?.rotation_type ?? null],
      );
      await client.query(IMPORT_SUMMARY_SQL, [keyId]);
      return true;
    });
  }

  async deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date): Promise<boolean> {
    return this.transaction(async (client) => {
      if ((await lockKey(client, storeKeyId)) === undefined) return false;
      const changed = await client.query(
        `UPDATE imported_key_material SET imported = 0, expiration_model = NULL, valid_to = NULL
         WHERE key_id = $1 AND version = $2 AND fingerprint IS NOT NULL
         AND ($3::bigint IS NULL OR (imported = 1 AND valid_to <= $3::bigint))`,
        [storeKeyId, version, expiredBy?.getTime() ?? null],
      );
      if (changed.rowCount !== 1) return false;
      await client.query("DELETE FROM key_material WHERE key_id = $1 AND version = $2", [storeKeyId, version]);
      await client.query(
        `UPDATE imported_key_material SET fingerprint = NULL, description = NULL
         WHERE key_id = $1 AND version = $2 AND version > (SELECT current_version FROM keys WHERE keys.key_id = $1)`,
        [storeKeyId, version],
      );
      await client.query(IMPORT_SUMMARY_SQL, [storeKeyId]);
      return true;
    });
  }

  async importedKeyMaterialDue(now: Date, limit: number): Promise<ExpiredKeyMaterial[]> {
    const rows = await this.rows<{ key_id: string; version: number }>(
      `SELECT key_id, version FROM imported_key_material WHERE imported = 1 AND valid_to IS NOT NULL
       AND valid_to <= $1 ORDER BY valid_to LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((row) => ({ storeKeyId: row.key_id, version: row.version }));
  }

  async rotateToImportedKeyMaterial(
    storeKeyId: string,
    fromVersion: number,
    toVersion: number,
    at: Date,
  ): Promise<boolean> {
    return this.transaction(async (client) => {
      const advanced = await client.query(
        `UPDATE keys SET current_version = $3 WHERE key_id = $1 AND current_version = $2 AND key_state = 'Enabled'
         AND EXISTS (SELECT 1 FROM imported_key_material m WHERE m.key_id = $1 AND m.version = $3
           AND m.imported = 1 AND m.fingerprint IS NOT NULL)`,
        [storeKeyId, fromVersion, toVersion],
      );
      if (advanced.rowCount !== 1) return false;
      await client.query(
        "UPDATE imported_key_material SET rotation_type = 'ON_DEMAND', rotated_at = $3 WHERE key_id = $1 AND version = $2",
        [storeKeyId, toVersion, at.getTime()],
      );
      await client.query(
        "UPDATE key_material SET rotation_type = 'ON_DEMAND', created_at = $3 WHERE key_id = $1 AND version = $2",
        [storeKeyId, toVersion, at.getTime()],
      );
      await client.query(IMPORT_SUMMARY_SQL, [storeKeyId]);
      return true;
    });
  }

  async refreshImportState(storeKeyId: string): Promise<void> {
    await this.rows(IMPORT_SUMMARY_SQL, [storeKeyId]);
  }
}

async function lockKey(client: pg.PoolClient, storeKeyId: string): Promise<string | undefined> {
  const locked = await client.query<{ key_state: string }>(
    "SELECT key_state FROM keys WHERE key_id = $1 AND origin = 'EXTERNAL' FOR UPDATE",
    [storeKeyId],
  );
  return locked.rows[0]?.key_state;
}
