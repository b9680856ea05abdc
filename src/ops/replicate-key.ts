import type { ReplicateKeyRequest, ReplicateKeyResponse } from "@aws-sdk/client-kms";
import { defaultKeyPolicy } from "../domain/default-key-policy.js";
import {
  AlreadyExistsException,
  KMSInvalidStateException,
  LimitExceededException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { describeKey, type KmsKey, keyArn, storeKeyId, type Tag } from "../domain/key.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { multiRegionKeyRegions } from "./describe-key.js";
import { resolveKey } from "./key-access.js";
import { bypassLockoutCondition, checkKeyPolicy } from "./key-policy.js";
import { inRegion, partitionOf, requireEnabled, requirePrimary } from "./multi-region.js";
import { requireReplicableMaterial } from "./replica-key-material.js";
import { MAX_TAGS_PER_KEY, requestTagConditions, validateTags } from "./tags.js";

/**
 * A replica of a multi-Region primary key in another region: the same key id and every version of
 * the same key material, with its own policy, description, tags, aliases, grants and state. AWS
 * asks for kms:ReplicateKey on the primary (in its region) and kms:CreateKey (and kms:TagResource
 * for Tags) of the caller's identity policies in the replica's region.
 */
export const replicateKey: Operation<ReplicateKeyRequest, ReplicateKeyResponse> = async (context, input) => {
  const { caller, services } = context;
  const replicaRegion = input.ReplicaRegion as string;
  const tags = (input.Tags ?? []) as Tag[];
  validateTags(tags);
  if (tags.length > MAX_TAGS_PER_KEY) {
    throw new LimitExceededException(`A KMS key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }
  const primary = await resolveKey(context, input.KeyId as string, "kms:ReplicateKey", {
    "kms:ReplicaRegion": replicaRegion,
  });
  requirePrimary(primary);
  if (replicaRegion === primary.region) {
    throw new ValidationException(
      `The replica Region ${replicaRegion} is the Region of the primary key ${keyArn(primary)}; a replica must be in another Region.`,
    );
  }
  if (partitionOf(replicaRegion) !== partitionOf(primary.region)) {
    throw new UnsupportedOperationException(
      `${replicaRegion} is not in the partition of ${primary.region}: a replica must be in the same partition as its primary key.`,
    );
  }
  if (primary.origin !== "AWS_KMS" && primary.origin !== "EXTERNAL") {
    throw new UnsupportedOperationException(
      `${keyArn(primary)} origin is ${primary.origin} which is not valid for this operation.`,
    );
  }
  requireEnabled(primary);
  await requireReplicableMaterial(services, primary);

  const replicaContext = inRegion(context, replicaRegion);
  await authorize(replicaContext, "kms:CreateKey", null, {
    "kms:KeySpec": primary.keySpec,
    "kms:KeyUsage": primary.keyUsage,
    "kms:KeyOrigin": primary.origin,
    "kms:MultiRegion": "true",
    "kms:MultiRegionKeyType": "REPLICA",
    ...bypassLockoutCondition(input.BypassPolicyLockoutSafetyCheck),
    ...requestTagConditions(tags),
  });
  if (tags.length > 0) await authorize(replicaContext, "kms:TagResource", null, requestTagConditions(tags));

  const replica: KmsKey = {
    keyId: primary.keyId,
    accountId: primary.accountId,
    region: replicaRegion,
    createdAt: services.now(),
    description: input.Description ?? "",
    keySpec: primary.keySpec,
    keyUsage: primary.keyUsage,
    origin: primary.origin,
    // AWS: "If you replicate a multi-Region primary key with imported key material, the replica
    // key is created with no key material": it is PendingImport until the same material is imported.
    keyState: primary.origin === "EXTERNAL" ? "PendingImport" : "Enabled",
    deletionDate: null,
    pendingDeletionWindowInDays: null,
    policy: input.Policy ?? defaultKeyPolicy(caller.accountId),
    currentVersion: primary.currentVersion,
    // Rotation is a shared property, kept (and run) on the primary's row.
    rotationPeriodInDays: null,
    nextRotationDate: null,
    primaryRegion: primary.region,
  };
  if (input.Policy !== undefined) {
    await checkKeyPolicy(replicaContext, replica, input.Policy, input.BypassPolicyLockoutSafetyCheck);
  }
  switch (await services.store.replicateKey(replica, tags)) {
    case "exists":
      throw new AlreadyExistsException(`${keyArn(replica)} already exists`);
    case "primary-unavailable":
      throw new KMSInvalidStateException(`${keyArn(primary)} changed while it was being replicated; try again.`);
    case "created":
      break;
  }
  const stored = (await services.store.getKey(storeKeyId(replica))) ?? replica;
  context.resources.push(keyArn(stored));
  return {
    ReplicaKeyMetadata: describeKey(stored, await multiRegionKeyRegions(services, stored)),
    ReplicaPolicy: stored.policy,
    ReplicaTags: tags,
  };
};
