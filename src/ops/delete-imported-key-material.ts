import type { DeleteImportedKeyMaterialRequest, DeleteImportedKeyMaterialResponse } from "@aws-sdk/client-kms";
import { KMSInvalidStateException, NotFoundException } from "../domain/errors.js";
import { keyArn, keyMaterialId, storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { liveMaterials, requireExternalOrigin } from "./imported-key-material.js";
import { resolveKey } from "./key-access.js";

/**
 * Deletes imported material, by default the current one: the key becomes PendingImport (a key
 * pending deletion stays so) until the same material is imported again. Deleting material that
 * waits for an on-demand rotation (PENDING_ROTATION) leaves the key as it is and frees it for
 * other material. Deleting material that is not imported changes nothing.
 */
export const deleteImportedKeyMaterial: Operation<
  DeleteImportedKeyMaterialRequest,
  DeleteImportedKeyMaterialResponse
> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:DeleteImportedKeyMaterial");
  requireExternalOrigin(key);
  if (key.keyState === "Creating" || key.keyState === "Updating" || key.keyState === "Unavailable") {
    throw new KMSInvalidStateException(`${keyArn(key)} is ${key.keyState.toLowerCase()}.`);
  }
  const { services } = context;
  const materials = liveMaterials(await services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(key)));
  const version =
    input.KeyMaterialId === undefined
      ? key.currentVersion
      : materials.find((material) => keyMaterialId(key.keyId, material.version) === input.KeyMaterialId)?.version;
  if (version === undefined) {
    throw new NotFoundException(`Key material ${input.KeyMaterialId} is not associated with ${keyArn(key)}.`);
  }
  const target = materials.find((material) => material.version === version);
  if (target?.imported) {
    await services.store.importedMaterial.deleteImportedKeyMaterial(storeKeyId(key), version);
    services.backingKeys.forget(key.keyId);
  }
  return { KeyId: keyArn(key), KeyMaterialId: keyMaterialId(key.keyId, version) };
};
