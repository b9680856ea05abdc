import { createHmac } from "node:crypto";
import type { RotationsListEntry } from "@aws-sdk/client-kms";
import { UnsupportedOperationException } from "../domain/errors.js";
import { type KmsKey, keyArn, keyMaterialId } from "../domain/key.js";
import { IMPORTED_MATERIAL_FINGERPRINT_PURPOSE, purposeKey } from "../root/purpose-keys.js";
import type { ImportedKeyMaterial } from "../store/imported-material-store.js";
import type { Services } from "./context.js";

/** The management operations of imported material refuse keys whose material KMS generated. */
export function requireExternalOrigin(key: KmsKey): void {
  if (key.origin !== "EXTERNAL") {
    throw new UnsupportedOperationException(
      `${keyArn(key)} origin is ${key.origin} which is not valid for this operation.`,
    );
  }
}

/**
 * The key as it is at `now`: an EXTERNAL key whose earliest imported material has passed its
 * ValidTo is PendingImport from that instant, before the expiry sweep has deleted the material,
 * so expired material is never used.
 */
export function withMaterialExpiry(key: KmsKey, now: Date): KmsKey {
  if (key.origin !== "EXTERNAL" || !key.validTo || key.validTo.getTime() > now.getTime()) return key;
  if (key.keyState !== "Enabled" && key.keyState !== "Disabled") return key;
  return { ...key, keyState: "PendingImport" };
}

const fingerprintKeys = new WeakMap<Services, Promise<Buffer>>();

/**
 * Which material this is, for this key: an HMAC under a key kept under the root, so the stored
 * value says nothing about the material to anyone without the root.
 */
export async function materialFingerprint(services: Services, key: KmsKey, identity: Buffer): Promise<Buffer> {
  let macKey = fingerprintKeys.get(services);
  if (macKey === undefined) {
    // A stored purpose key, not a fresh derivation: it must outlive `trent root migrate`.
    macKey = purposeKey(services.store, services.root, IMPORTED_MATERIAL_FINGERPRINT_PURPOSE);
    fingerprintKeys.set(services, macKey);
  }
  return createHmac("sha256", await macKey)
    .update(`${keyArn(key)}\n`)
    .update(identity)
    .digest();
}

/** Materials that are or were imported, without deleted pending rotations. */
export function liveMaterials(materials: readonly ImportedKeyMaterial[]): ImportedKeyMaterial[] {
  return materials.filter((material) => material.fingerprint !== null);
}

/** A version for new material: the key's first, or one past every version it ever had. */
export function nextMaterialVersion(key: KmsKey, materials: readonly ImportedKeyMaterial[]): number {
  if (materials.length === 0) return key.currentVersion;
  return Math.max(key.currentVersion, ...materials.map((material) => material.version)) + 1;
}

/** ListKeyRotations' entry for one imported material of a symmetric EXTERNAL key. */
export function importedRotationEntry(key: KmsKey, material: ImportedKeyMaterial): RotationsListEntry {
  const state =
    material.version === key.currentVersion
      ? "CURRENT"
      : material.version > key.currentVersion
        ? "PENDING_ROTATION"
        : "NON_CURRENT";
  return {
    KeyId: keyArn(key),
    KeyMaterialId: keyMaterialId(key.keyId, material.version),
    ...(material.description === null ? {} : { KeyMaterialDescription: material.description }),
    ImportState: material.imported ? "IMPORTED" : "PENDING_IMPORT",
    KeyMaterialState: state,
    ...(material.expirationModel === null ? {} : { ExpirationModel: material.expirationModel }),
    ...(material.validTo === null ? {} : { ValidTo: material.validTo }),
    ...(material.rotationType === null || material.rotatedAt === null
      ? {}
      : { RotationDate: material.rotatedAt, RotationType: material.rotationType }),
  };
}
