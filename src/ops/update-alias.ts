import type { UpdateAliasRequest } from "@aws-sdk/client-kms";
import { NotFoundException, ValidationException } from "../domain/errors.js";
import { aliasArn, storeKeyId } from "../domain/key.js";
import { validateAliasName } from "./alias-name.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const updateAlias: Operation<UpdateAliasRequest, Record<string, never>> = async (context, input) => {
  const aliasName = input.AliasName as string;
  validateAliasName(aliasName);
  const { caller, services } = context;
  const alias = await services.store.getAlias(caller.accountId, caller.region, aliasName);
  if (!alias)
    throw new NotFoundException(`Alias ${aliasArn(caller.region, caller.accountId, aliasName)} is not found.`);
  const current = await services.store.getKey(storeKeyId({ keyId: alias.targetKeyId, region: alias.region }));
  const target = await resolveKey(context, input.TargetKeyId as string, "kms:UpdateAlias");
  requireNotPendingDeletion(target);
  if (current && (current.keyUsage !== target.keyUsage || current.keySpec !== target.keySpec)) {
    throw new ValidationException(
      `Alias ${aliasName} points to a ${current.keySpec} ${current.keyUsage} key; it can only be moved to a key of the same type and key usage.`,
    );
  }
  await services.store.updateAlias({ ...alias, targetKeyId: target.keyId, lastUpdatedAt: services.now() });
  return {};
};
