import type { RotateKeyOnDemandResponse } from "@aws-sdk/client-kms";
import { KMSInvalidStateException, LimitExceededException, UnsupportedOperationException } from "../domain/errors.js";
import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import type { OperationContext } from "./context.js";
import { liveMaterials } from "./imported-key-material.js";
import { requireUsable } from "./key-access.js";

/**
 * RotateKeyOnDemand on a symmetric encryption key with imported material: the material imported
 * with ImportType NEW_KEY_MATERIAL (PENDING_ROTATION) becomes current; the former current
 * material stays for decryption. There is no automatic rotation of imported material.
 */
export async function rotateImportedKeyOnDemand(
  context: OperationContext,
  key: KmsKey,
  maxRotations: number,
): Promise<RotateKeyOnDemandResponse> {
  if (key.keySpec !== "SYMMETRIC_DEFAULT") {
    throw new UnsupportedOperationException(
      `${keyArn(key)} key spec is ${key.keySpec} which is not valid for this operation: only symmetric encryption keys rotate.`,
    );
  }
  requireUsable(key);
  const { services } = context;
  const materials = liveMaterials(await services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(key)));
  if (materials.filter((material) => material.rotationType === "ON_DEMAND").length >= maxRotations) {
    throw new LimitExceededException(
      `${keyArn(key)} has reached the quota of ${maxRotations} on-demand rotations per key.`,
    );
  }
  const pending = materials.find((material) => material.version > key.currentVersion);
  if (pending === undefined || !pending.imported) {
    throw new KMSInvalidStateException(
      `${keyArn(key)} has no key material in PENDING_ROTATION state. Import new key material with ImportType NEW_KEY_MATERIAL before rotating.`,
    );
  }
  if (pending.validTo !== null && pending.validTo.getTime() <= services.now().getTime()) {
    throw new KMSInvalidStateException(`The key material pending rotation for ${keyArn(key)} has expired.`);
  }
  const rotated = await services.store.importedMaterial.rotateToImportedKeyMaterial(
    storeKeyId(key),
    key.currentVersion,
    pending.version,
    services.now(),
  );
  if (!rotated) {
    throw new KMSInvalidStateException(`${keyArn(key)} was changed by another request; try the rotation again.`);
  }
  return { KeyId: keyArn(key) };
}
