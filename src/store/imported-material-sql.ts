import type { RotationType } from "../domain/key.js";
import type { ExpiredKeyMaterial, ImportedKeyMaterial, KeyMaterialImport } from "./imported-material-store.js";

type Millis = number | string;

export interface ImportedKeyMaterialRow {
  key_id: string;
  version: number;
  fingerprint: Buffer | null;
  description: string | null;
  imported: number;
  expiration_model: string | null;
  valid_to: Millis | null;
  imported_at: Millis;
  rotation_type: string | null;
  rotated_at: Millis | null;
}

const date = (millis: Millis | null) => (millis === null ? null : new Date(Number(millis)));

export function toImportedKeyMaterial(row: ImportedKeyMaterialRow): ImportedKeyMaterial {
  return {
    version: row.version,
    fingerprint: row.fingerprint,
    description: row.description,
    imported: row.imported === 1,
    expirationModel: row.expiration_model as ImportedKeyMaterial["expirationModel"],
    validTo: date(row.valid_to),
    rotationType: row.rotation_type as RotationType | null,
    rotatedAt: date(row.rotated_at),
  };
}

/** The materials permanently associated with the key of row `keys`: up to its current version. */
const ASSOCIATED = `FROM imported_key_material m WHERE m.key_id = keys.key_id AND m.version <= keys.current_version
  AND m.fingerprint IS NOT NULL`;

/**
 * Brings an EXTERNAL key's row up to date with its materials: the earliest ValidTo and the
 * expiration model of what is imported, and the state (see ImportedMaterialStore).
 */
const IMPORT_SUMMARY_SQL = `
  UPDATE keys SET
    valid_to = (SELECT min(m.valid_to) ${ASSOCIATED} AND m.imported = 1),
    expiration_model = (SELECT CASE WHEN count(*) = 0 THEN NULL
        WHEN sum(CASE WHEN m.expiration_model = 'KEY_MATERIAL_EXPIRES' THEN 1 ELSE 0 END) > 0
        THEN 'KEY_MATERIAL_EXPIRES' ELSE 'KEY_MATERIAL_DOES_NOT_EXPIRE' END ${ASSOCIATED} AND m.imported = 1),
    key_state = CASE
      WHEN key_state IN ('PendingDeletion', 'PendingReplicaDeletion') THEN key_state
      WHEN EXISTS (SELECT 1 ${ASSOCIATED} AND m.imported = 0) OR NOT EXISTS (SELECT 1 ${ASSOCIATED})
        THEN 'PendingImport'
      WHEN key_state = 'PendingImport' THEN 'Enabled'
      ELSE key_state END
  WHERE key_id = :key_id AND origin = 'EXTERNAL'`;

/**
 * The statements of ImportedMaterialStore, in the SQL both stores speak, with :name parameters
 * (the PostgreSQL store numbers them); each store runs them in its own transactions.
 */
export const IMPORTED_MATERIAL_SQL = {
  list: "SELECT * FROM imported_key_material WHERE key_id = :key_id ORDER BY version",
  keyState: "SELECT key_state FROM keys WHERE key_id = :key_id AND origin = 'EXTERNAL'",
  version: "SELECT fingerprint FROM imported_key_material WHERE key_id = :key_id AND version = :version",
  insert: `INSERT INTO imported_key_material (key_id, version, fingerprint, description, imported, expiration_model,
      valid_to, imported_at) VALUES (:key_id, :version, :fingerprint, :description, 1, :expiration_model,
      :valid_to, :imported_at) ON CONFLICT DO NOTHING`,
  reimport: `UPDATE imported_key_material SET imported = 1, expiration_model = :expiration_model, valid_to = :valid_to,
      imported_at = :imported_at, description = coalesce(:description, description)
    WHERE key_id = :key_id AND version = :version AND fingerprint = :fingerprint`,
  rotationOf:
    "SELECT rotation_type, rotated_at FROM imported_key_material WHERE key_id = :key_id AND version = :version",
  putMaterial: `INSERT INTO key_material (key_id, version, wrapped, created_at, rotation_type)
    VALUES (:key_id, :version, :wrapped, :created_at, :rotation_type)
    ON CONFLICT (key_id, version) DO UPDATE SET wrapped = excluded.wrapped`,
  deleteMaterial: "DELETE FROM key_material WHERE key_id = :key_id AND version = :version",
  unimport: `UPDATE imported_key_material SET imported = 0, expiration_model = NULL, valid_to = NULL
    WHERE key_id = :key_id AND version = :version AND fingerprint IS NOT NULL
    AND (CAST(:expired_by AS bigint) IS NULL OR (imported = 1 AND valid_to <= CAST(:expired_by AS bigint)))`,
  // A version above the current one was never rotated to: it is forgotten, not kept as deleted.
  forgetPending: `UPDATE imported_key_material SET fingerprint = NULL, description = NULL
    WHERE key_id = :key_id AND version = :version
    AND version > (SELECT current_version FROM keys WHERE keys.key_id = :key_id)`,
  due: `SELECT key_id, version FROM imported_key_material WHERE imported = 1 AND valid_to IS NOT NULL
    AND valid_to <= :now ORDER BY valid_to LIMIT :limit`,
  advance: `UPDATE keys SET current_version = :to WHERE key_id = :key_id AND current_version = :from
    AND key_state = 'Enabled' AND EXISTS (SELECT 1 FROM imported_key_material m WHERE m.key_id = :key_id
      AND m.version = :to AND m.imported = 1 AND m.fingerprint IS NOT NULL)`,
  markRotated: `UPDATE imported_key_material SET rotation_type = 'ON_DEMAND', rotated_at = :at
    WHERE key_id = :key_id AND version = :version`,
  markMaterialRotated: `UPDATE key_material SET rotation_type = 'ON_DEMAND', created_at = :at
    WHERE key_id = :key_id AND version = :version`,
  summary: IMPORT_SUMMARY_SQL,
} as const;

/** The parameters of `insert` and `reimport`. */
export function importParams(write: KeyMaterialImport) {
  return {
    key_id: write.storeKeyId,
    version: write.version,
    fingerprint: write.fingerprint,
    description: write.description ?? null,
    expiration_model: write.expirationModel,
    valid_to: write.validTo?.getTime() ?? null,
    imported_at: write.importedAt.getTime(),
  };
}

/** The parameters of `putMaterial`: a version rotated to already keeps the time and type of its rotation. */
export function materialParams(
  write: KeyMaterialImport,
  rotation: { rotation_type: string | null; rotated_at: Millis | null } | undefined,
) {
  return {
    key_id: write.storeKeyId,
    version: write.version,
    wrapped: write.wrappedMaterial,
    created_at: rotation?.rotated_at ?? write.importedAt.getTime(),
    rotation_type: rotation?.rotation_type ?? null,
  };
}

export function toExpiredKeyMaterial(row: { key_id: string; version: number }): ExpiredKeyMaterial {
  return { storeKeyId: row.key_id, version: row.version };
}
