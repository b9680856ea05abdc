import type { ListKeyRotationsRequest, ListKeyRotationsResponse, RotationsListEntry } from "@aws-sdk/client-kms";
import { InvalidMarkerException } from "../domain/errors.js";
import { keyArn, keyMaterialId, storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { requireReadableRotation } from "./key-rotation.js";
import { listImportedKeyMaterial } from "./list-imported-key-material.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

/**
 * The key's backing-key versions, oldest first: by default only those made by rotation;
 * with IncludeKeyMaterial ALL_KEY_MATERIAL also the first, which has no rotation date or type.
 */
export const listKeyRotations: Operation<ListKeyRotationsRequest, ListKeyRotationsResponse> = async (
  context,
  input,
) => {
  const marker = decodeMarker(input.Marker);
  const after = marker === null ? null : Number(marker);
  if (after !== null && !Number.isSafeInteger(after))
    throw new InvalidMarkerException("The marker is not valid; pass the NextMarker of a previous response.");
  const key = await resolveKey(context, input.KeyId as string, "kms:ListKeyRotations");
  requireReadableRotation(key);
  if (key.origin === "EXTERNAL") return listImportedKeyMaterial(context, key, input, after);
  const firstIncluded = input.IncludeKeyMaterial === "ALL_KEY_MATERIAL" ? 0 : 1;
  const page = await context.services.store.listKeyMaterial(
    storeKeyId(key),
    Math.max(after ?? 0, firstIncluded),
    pageSize(input.Limit, 100, 1000),
  );
  const rotations = page.items.map(
    (material): RotationsListEntry => ({
      KeyId: keyArn(key),
      KeyMaterialId: keyMaterialId(key.keyId, material.version),
      KeyMaterialState: material.version === key.currentVersion ? "CURRENT" : "NON_CURRENT",
      ...(material.rotationType === null
        ? {}
        : { RotationDate: material.createdAt, RotationType: material.rotationType }),
    }),
  );
  return { Rotations: rotations, ...pageOutput(page.next) };
};
