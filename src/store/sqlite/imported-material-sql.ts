import type Database from "better-sqlite3";
import { IMPORT_SUMMARY_SQL, type ImportedKeyMaterialRow, toImportedKeyMaterial } from "../imported-material-sql.js";
import type {
  ExpiredKeyMaterial,
  ImportedKeyMaterial,
  ImportedMaterialStore,
  KeyMaterialImport,
} from "../imported-material-store.js";

/** The SQLite half of ImportedMaterialStore; each write is one IMMEDIATE transaction. */
export class SqliteImportedMaterial implements ImportedMaterialStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      list: db.prepare<[string], ImportedKeyMaterialRow>(
        "SELECT * FROM imported_key_material WHERE key_id = ? ORDER BY version",
      ),
      keyState: db
        .prepare<[string], string>("SELECT key_state FROM keys WHERE key_id = ? AND origin = 'EXTERNAL'")
        .pluck(),
      version: db
        .prepare<[string, number], { fingerprint: Buffer | null }>(
          "SELECT fingerprint FROM imported_key_material WHERE key_id = ? AND version = ?",
        )
        .pluck(),
      insert: db.prepare(
        `INSERT INTO imported_key_material (key_id, version, fingerprint, description, imported, expiration_model,
           valid_to, imported_at) VALUES (:key_id, :version, :fingerprint, :description, 1, :expiration_model,
           :valid_to, :imported_at)`,
      ),
      reimport: db.prepare(
        `UPDATE imported_key_material SET imported = 1, expiration_model = :expiration_model, valid_to = :valid_to,
           imported_at = :imported_at, description = coalesce(:description, description)
         WHERE key_id = :key_id AND version = :version AND fingerprint = :fingerprint`,
      ),
      rotationOf: db.prepare<[string, number], { rotation_type: string | null; rotated_at: number | null }>(
        "SELECT rotation_type, rotated_at FROM imported_key_material WHERE key_id = ? AND version = ?",
      ),
      putMaterial: db.prepare(
        `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key_id, version) DO UPDATE SET wrapped = excluded.wrapped`,
      ),
      deleteMaterial: db.prepare("DELETE FROM key_material WHERE key_id = ? AND version = ?"),
      unimport: db.prepare(
        `UPDATE imported_key_material SET imported = 0, expiration_model = NULL, valid_to = NULL
         WHERE key_id = :key_id AND version = :version AND fingerprint IS NOT NULL
         AND (:expired_by IS NULL OR (imported = 1 AND valid_to <= :expired_by))`,
      ),
      forgetPending: db.prepare(
        `UPDATE imported_key_material SET fingerprint = NULL, description = NULL
         WHERE key_id = ? AND version = ? AND version > (SELECT current_version FROM keys WHERE keys.key_id = ?)`,
      ),
      due: db.prepare<[number, number], { key_id: string; version: number }>(
        `SELECT key_id, version FROM imported_key_material WHERE imported = 1 AND valid_to IS NOT NULL
         AND valid_to <= ? ORDER BY valid_to LIMIT ?`,
      ),
      advance: db.prepare(
        `UPDATE keys SET current_version = :to WHERE key_id = :key_id AND current_version = :from
         AND key_state = 'Enabled' AND EXISTS (SELECT 1 FROM imported_key_material m WHERE m.key_id = :key_id
           AND m.version = :to AND m.imported = 1 AND m.fingerprint IS NOT NULL)`,
      ),
      markRotated: db.prepare(
        "UPDATE imported_key_material SET rotation_type = 'ON_DEMAND', rotated_at = ? WHERE key_id = ? AND version = ?",
      ),
      markMaterialRotated: db.prepare(
        "UPDATE key_material SET rotation_type = 'ON_DEMAND', created_at = ? WHERE key_id = ? AND version = ?",
      ),
      summary: db.prepare(IMPORT_SUMMARY_SQL.replaceAll("$1", ":key_id")),
    };
  }

  async listImportedKeyMaterial(storeKeyId: string): Promise<ImportedKeyMaterial[]> {
    return this.statements.list.all(storeKeyId).map(toImportedKeyMaterial);
  }

  async importKeyMaterial(write: KeyMaterialImport): Promise<boolean> {
    const s = this.statements;
    const key_id = write.storeKeyId;
    return this.db
      .transaction(() => {
        const state = s.keyState.get(key_id);
        if (state !== "PendingImport" && state !== "Enabled") return false;
        const existing = s.version.get(key_id, write.version);
        const params = {
          key_id,
          version: write.version,
          fingerprint: write.fingerprint,
          description: write.description ?? null,
          expiration_model: write.expirationModel,
          valid_to: write.validTo?.getTime() ?? null,
          imported_at: write.importedAt.getTime(),
        };
        if (write.mode === "new") {
          if (existing !== undefined) return false;
          s.insert.run(params);
        } else if (s.reimport.run(params).changes !== 1) {
          return false;
        }
        const rotation = s.rotationOf.get(key_id, write.version);
        s.putMaterial.run(
          key_id,
          write.version,
          write.wrappedMaterial,
          rotation?.rotated_at ?? write.importedAt.getTime(),
          rotation?.rotation_type ?? null,
        );
        s.summary.run({ key_id });
        return true;
      })
      .immediate();
  }

  async deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date): Promise<boolean> {
    const s = this.statements;
    return this.db
      .transaction(() => {
        const changed = s.unimport.run({ key_id: storeKeyId, version, expired_by: expiredBy?.getTime() ?? null });
        if (changed.changes !== 1) return false;
        s.deleteMaterial.run(storeKeyId, version);
        s.forgetPending.run(storeKeyId, version, storeKeyId);
        s.summary.run({ key_id: storeKeyId });
        return true;
      })
      .immediate();
  }

  async importedKeyMaterialDue(now: Date, limit: number): Promise<ExpiredKeyMaterial[]> {
    return this.statements.due
      .all(now.getTime(), limit)
      .map((row) => ({ storeKeyId: row.key_id, version: row.version }));
  }

  async rotateToImportedKeyMaterial(
    storeKeyId: string,
    fromVersion: number,
    toVersion: number,
    at: Date,
  ): Promise<boolean> {
    const s = this.statements;
    return this.db
      .transaction(() => {
        if (s.advance.run({ key_id: storeKeyId, from: fromVersion, to: toVersion }).changes !== 1) return false;
        s.markRotated.run(at.getTime(), storeKeyId, toVersion);
        s.markMaterialRotated.run(at.getTime(), storeKeyId, toVersion);
        s.summary.run({ key_id: storeKeyId });
        return true;
      })
      .immediate();
  }

  async refreshImportState(storeKeyId: string): Promise<void> {
    this.statements.summary.run({ key_id: storeKeyId });
  }
}
