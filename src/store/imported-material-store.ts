import type { ExpirationModelType } from "@aws-sdk/client-kms";
import type { RotationType } from "../domain/key.js";

/**
 * One key material imported into a key of Origin EXTERNAL (docs/byok.md). Its version is a
 * backing-key version like any other: the wrapped bytes live in `key_material` while imported.
 * A version above the key's current version is material imported for an on-demand rotation
 * that has not happened yet (PENDING_ROTATION).
 */
export interface ImportedKeyMaterial {
  readonly version: number;
  /**
   * A keyed hash of the material (key ARN bound), to recognise the same material when it is
   * imported again; null for a deleted pending rotation, whose version is never used again.
   */
  readonly fingerprint: Buffer | null;
  readonly description: string | null;
  /** False once deleted or expired, until the same material is imported again. */
  readonly imported: boolean;
  readonly expirationModel: ExpirationModelType | null;
  readonly validTo: Date | null;
  readonly rotationType: RotationType | null;
  readonly rotatedAt: Date | null;
}

/** An import to write: a new version (`new`), or the same material again into its version (`existing`). */
export interface KeyMaterialImport {
  /** The key's store row (storeKeyId). */
  readonly storeKeyId: string;
  readonly mode: "new" | "existing";
  readonly version: number;
  readonly fingerprint: Buffer;
  /** undefined keeps the description the material had. */
  readonly description: string | undefined;
  readonly expirationModel: ExpirationModelType;
  readonly validTo: Date | null;
  /** The material wrapped under the root for (key id, version), as BackingKeys makes it. */
  readonly wrappedMaterial: Buffer;
  readonly importedAt: Date;
}

/** A material whose ValidTo has passed, as the expiry sweep finds it. */
export interface ExpiredKeyMaterial {
  readonly storeKeyId: string;
  readonly version: number;
}

/**
 * The store's part in imported key material. Every write also brings the key row up to date in
 * the same transaction: `valid_to` and `expiration_model` from the imported materials permanently
 * associated with the key (those at or below its current version), and its state: PendingImport
 * while one of them is not imported, Enabled again once all are (from PendingImport only);
 * PendingDeletion is never changed.
 */
export interface ImportedMaterialStore {
  /** Every version that ever held imported material, deleted pending rotations included. */
  listImportedKeyMaterial(storeKeyId: string): Promise<ImportedKeyMaterial[]>;
  /**
   * Writes an import while the key is PendingImport or Enabled: a `new` version only if no
   * material has that version yet, an `existing` one only if the version holds that fingerprint.
   * Returns false, writing nothing, otherwise.
   */
  importKeyMaterial(write: KeyMaterialImport): Promise<boolean>;
  /**
   * Deletes the material of a version (its wrapped bytes; a version above the current one, not
   * yet rotated to, is forgotten entirely). With `expiredBy`, only if it is imported and its
   * ValidTo is at or before that time. Returns whether it was deleted.
   */
  deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date): Promise<boolean>;
  /** Imported materials whose ValidTo is at or before `now`. */
  importedKeyMaterialDue(now: Date, limit: number): Promise<ExpiredKeyMaterial[]>;
  /**
   * Makes imported version `toVersion` current (RotateKeyOnDemand), only if the key is Enabled at
   * `fromVersion` and that version is imported. Returns whether it was written.
   */
  rotateToImportedKeyMaterial(storeKeyId: string, fromVersion: number, toVersion: number, at: Date): Promise<boolean>;
  /** Brings the key row's import summary and state up to date (after CancelKeyDeletion). */
  refreshImportState(storeKeyId: string): Promise<void>;
}
