import type { UpdatePrimaryRegionRequest } from "@aws-sdk/client-kms";
import { KMSInvalidStateException, NotFoundException } from "../domain/errors.js";
import { keyArn, storeKeyId } from "../domain/key.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { inRegion, requireEnabled, requirePrimary } from "./multi-region.js";

/**
 * Makes the replica in PrimaryRegion the primary key and the current primary a replica, in one
 * store transaction (so no Updating state is ever seen). AWS asks for kms:UpdatePrimaryRegion on
 * both keys, each in its own region; both must be Enabled.
 */
export const updatePrimaryRegion: Operation<UpdatePrimaryRegionRequest, Record<string, never>> = async (
  context,
  input,
) => {
  const { services } = context;
  const region = input.PrimaryRegion as string;
  const conditions = { "kms:PrimaryRegion": region };
  const primary = await resolveKey(context, input.KeyId as string, "kms:UpdatePrimaryRegion", conditions);
  requirePrimary(primary);
  if (region === primary.region) return {};
  const replicaArn = keyArn({ ...primary, region });
  const replica = await services.store.getKey(storeKeyId({ keyId: primary.keyId, region }));
  if (replica === undefined || replica.accountId !== primary.accountId) {
    throw new NotFoundException(`Key '${replicaArn}' does not exist`);
  }
  requireEnabled(primary);
  requireEnabled(replica);
  context.resources.push(replicaArn);
  await authorize(inRegion(context, region), "kms:UpdatePrimaryRegion", replica, conditions);
  if (!(await services.store.updatePrimaryRegion(primary.keyId, region))) {
    throw new KMSInvalidStateException(
      `${keyArn(primary)} changed while its primary Region was being updated; try again.`,
    );
  }
  return {};
};
