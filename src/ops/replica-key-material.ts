import type { ImportKeyMaterialRequest } from "@aws-sdk/client-kms";
import {
  IncorrectKeyMaterialException,
  KMSInvalidStateException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { type KmsKey, keyArn, keyMaterialId, storeKeyId } from "../domain/key.js";
import type { ImportedKeyMaterial } from "../store/imported-material-store.js";
import type { OperationContext, Services } from "./context.js";
import { multiRegionKeyRegions } from "./describe-key.js";
import { liveMaterials, materialFingerprint } from "./imported-key-material.js";
import { isReplica, primaryArn, primaryCopy } from "./multi-region.js";

/**
 * Multi-Region keys with imported material, as ReplicateKey documents them: a replica is created
 * without key material (PendingImport) and takes only the key material of its primary key,
 * imported into it again (AWS: "You must import the same key material that you imported into the
 * primary key"). Each copy keeps its own import, expiry and state.
 *
 * Trent replicates only while the primary has one key material, and refuses new key material for
 * a primary that has replicas: rotating imported material across regions (AWS's
 * PENDING_MULTI_REGION_IMPORT_AND_ROTATION) needs every copy to advance in one store transaction.
 */

/** Where an import into a replica goes: the version of that material in the primary key. */
export interface ReplicaImport {
  readonly version: number;
  readonly mode: "new" | "existing";
}

/**
 * The primary's version of `identity`, which the replica's import must be; IncorrectKeyMaterial
 * for material the primary does not have. `replicaMaterials` are the replica's own rows.
 */
export async function replicaImport(
  context: OperationContext,
  replica: KmsKey,
  identity: Buffer,
  replicaMaterials: readonly ImportedKeyMaterial[],
  input: ImportKeyMaterialRequest,
): Promise<ReplicaImport> {
  if (input.ImportType === "NEW_KEY_MATERIAL" && input.KeyMaterialId !== undefined) {
    throw new ValidationException("You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.");
  }
  const { services } = context;
  const primary = await primaryCopy(context, replica);
  if (isReplica(primary)) {
    throw new KMSInvalidStateException(
      `The primary key ${primaryArn(replica)} of ${keyArn(replica)} is not available.`,
    );
  }
  const fingerprint = await materialFingerprint(services, primary, identity);
  const primaryMaterials = liveMaterials(
    await services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(primary)),
  );
  const match = primaryMaterials.find((material) => material.fingerprint?.equals(fingerprint));
  if (match === undefined) {
    throw new IncorrectKeyMaterialException(
      `The key material is not the key material of the primary key ${keyArn(primary)}. Import into a replica key the key material that was imported into its primary key.`,
    );
  }
  if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== keyMaterialId(replica.keyId, match.version)) {
    throw new IncorrectKeyMaterialException(
      `The key material does not match the key material ID ${input.KeyMaterialId} of ${keyArn(replica)}.`,
    );
  }
  const held = liveMaterials(replicaMaterials).some((material) => material.version === match.version);
  if (held && input.ImportType === "NEW_KEY_MATERIAL") {
    throw new IncorrectKeyMaterialException(
      `The key material is already associated with ${keyArn(replica)}. To reimport it, use ImportType EXISTING_KEY_MATERIAL.`,
    );
  }
  return { version: match.version, mode: held ? "existing" : "new" };
}

/** Whether a multi-Region key (primary or replica) has copies in other regions. */
export async function hasOtherCopies(services: Services, key: KmsKey): Promise<boolean> {
  return key.primaryRegion !== undefined && (await multiRegionKeyRegions(services, key)).length > 1;
}

/** ReplicateKey of a primary with imported material: only while it has exactly one key material. */
export async function requireReplicableMaterial(services: Services, primary: KmsKey): Promise<void> {
  if (primary.origin !== "EXTERNAL") return;
  const materials = liveMaterials(await services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(primary)));
  if (materials.length > 1) {
    throw new UnsupportedOperationException(
      `${keyArn(primary)} has more than one key material (rotated, or pending rotation): Trent replicates a multi-Region key with imported key material only while it has one.`,
    );
  }
}
