import type { CreateAliasRequest } from "@aws-sdk/client-kms";
import { AlreadyExistsException } from "../domain/errors.js";
import { aliasArn } from "../domain/key.js";
import { validateAliasName } from "./alias-name.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const createAlias: Operation<CreateAliasRequest, Record<string, never>> = async (context, input) => {
  const aliasName = input.AliasName as string;
  validateAliasName(aliasName);
  const key = await resolveKey(context, input.TargetKeyId as string, "kms:CreateAlias");
  requireNotPendingDeletion(key);
  const { caller, services } = context;
  const now = services.now();
  const created = await services.store.createAlias({
    accountId: caller.accountId,
    region: caller.region,
    aliasName,
    targetKeyId: key.keyId,
    createdAt: now,
    lastUpdatedAt: now,
  });
  if (!created) {
    throw new AlreadyExistsException(
      `An alias with the name ${aliasArn(caller.region, caller.accountId, aliasName)} already exists`,
    );
  }
  return {};
};
