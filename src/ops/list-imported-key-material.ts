import type { ListKeyRotationsRequest, ListKeyRotationsResponse } from "@aws-sdk/client-kms";
import { type KmsKey, storeKeyId } from "../domain/key.js";
import type { OperationContext } from "./context.js";
import { importedRotationEntry, liveMaterials } from "./imported-key-material.js";
import { pageOutput, pageSize } from "./pagination.js";

/**
 * ListKeyRotations for a key with imported material: by default the materials made current by a
 * rotation; with ALL_KEY_MATERIAL also the first and any PENDING_ROTATION material, each with its
 * import state, description and expiry. Oldest first; the marker is the last version returned.
 */
export async function listImportedKeyMaterial(
  context: OperationContext,
  key: KmsKey,
  input: ListKeyRotationsRequest,
  after: number | null,
): Promise<ListKeyRotationsResponse> {
  const all = input.IncludeKeyMaterial === "ALL_KEY_MATERIAL";
  const materials = liveMaterials(
    await context.services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(key)),
  ).filter((material) => (all || material.rotationType !== null) && material.version > (after ?? 0));
  const limit = pageSize(input.Limit, 100, 1000);
  const items = materials.slice(0, limit);
  const last = items[items.length - 1];
  const next = materials.length > limit && last !== undefined ? String(last.version) : null;
  return { Rotations: items.map((material) => importedRotationEntry(key, material)), ...pageOutput(next) };
}
