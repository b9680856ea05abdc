import type Database from "better-sqlite3";
import {
  type ImportedKeyMaterialRow,
  importParams,
  materialParams,
  IMPORTED_MATERIAL_SQL as SQL,
  toExpiredKeyMaterial,
  toImportedKeyMaterial,
} from "../imported-material-sql.js";
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
      list: db.prepare<[{ key_id: string }], ImportedKeyMaterialRow>(SQL.list),
      keyState: db.prepare<[{ key_id: string }], string>(SQL.keyState).pluck(),
      version: db.prepare<[{ key_id: string; version: number }], Buffer | null>(SQL.version).pluck(),
      insert: db.prepare(SQL.insert),
      reimport: db.prepare(SQL.reimport),
      rotationOf: db.prepare<
        [{ key_id: string; version: number }],
        { rotation_type: string | null; rotated_at: number | null }
      >(SQL.rotationOf),
      putMaterial: db.prepare(SQL.putMaterial),
      deleteMaterial: db.prepare(SQL.deleteMaterial),
      unimport: db.prepare(SQL.unimport),
      forgetPending: db.prepare(SQL.forgetPending),
      due: db.prepare<[{ now: number; limit: number }], { key_id: string; version: number }>(SQL.due),
      advance: db.prepare(SQL.advance),
      markRotated: db.prepare(SQL.markRotated),
      markMaterialRotated: db.prepare(SQL.markMaterialRotated),
      summary: db.prepare(SQL.summary),
    };
  }

  async listImportedKeyMaterial(storeKeyId: string): Promise<ImportedKeyMaterial[]> {
    return this.statements.list.all({ key_id: storeKeyId }).map(toImportedKeyMaterial);
  }

  async importKeyMaterial(write: KeyMaterialImport): Promise<boolean> {
    const s = this.statements;
    const params = importParams(write);
    const key = { key_id: params.key_id, version: params.version };
    return this.db
      .transaction(() => {
        const state = s.keyState.get(key);
        if (state !== "PendingImport" && state !== "Enabled") return false;
        if (write.mode === "new") {
          if (s.version.get(key) !== undefined) return false;
          s.insert.run(params);
        } else if (s.reimport.run(params).changes !== 1) {
          return false;
        }
        s.putMaterial.run(materialParams(write, s.rotationOf.get(key)));
        s.summary.run(key);
        return true;
      })
      .immediate();
  }

  async deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date): Promise<boolean> {
    const s = this.statements;
    const key = { key_id: storeKeyId, version };
    return this.db
      .transaction(() => {
        if (s.unimport.run({ ...key, expired_by: expiredBy?.getTime() ?? null }).changes !== 1) return false;
        s.deleteMaterial.run(key);
        s.forgetPending.run(key);
        s.summary.run(key);
        return true;
      })
      .immediate();
  }

  async importedKeyMaterialDue(now: Date, limit: number): Promise<ExpiredKeyMaterial[]> {
    return this.statements.due.all({ now: now.getTime(), limit }).map(toExpiredKeyMaterial);
  }

  async rotateToImportedKeyMaterial(
    storeKeyId: string,
    fromVersion: number,
    toVersion: number,
    at: Date,
  ): Promise<boolean> {
    const s = this.statements;
    const rotated = { key_id: storeKeyId, version: toVersion, at: at.getTime() };
    return this.db
      .transaction(() => {
        if (s.advance.run({ key_id: storeKeyId, from: fromVersion, to: toVersion }).changes !== 1) return false;
        s.markRotated.run(rotated);
        s.markMaterialRotated.run(rotated);
        s.summary.run(rotated);
        return true;
      })
      .immediate();
  }

  async refreshImportState(storeKeyId: string): Promise<void> {
    this.statements.summary.run({ key_id: storeKeyId });
  }
}
