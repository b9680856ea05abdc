import type { RotationType } from "../domain/key.js";
import type { ImportedKeyMaterial } from "./imported-material-store.js";

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
 * Brings an EXTERNAL key's row up to date with its materials ($1 is the row id), in both SQL
 * dialects: the earliest ValidTo and the expiration model of what is imported, and the state
 * (see ImportedMaterialStore).
 */
export const IMPORT_SUMMARY_SQL = `
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
  WHERE key_id = $1 AND origin = 'EXTERNAL'`;
