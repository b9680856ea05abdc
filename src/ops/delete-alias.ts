import type { DeleteAliasRequest } from "@aws-sdk/client-kms";
import { NotFoundException } from "../domain/errors.js";
import { aliasArn, keyArn, storeKeyId } from "../domain/key.js";
import { validateAliasName } from "./alias-name.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";

export const deleteAlias: Operation<DeleteAliasRequest, Record<string, never>> = async (context, input) => {
  const aliasName = input.AliasName as string;
  validateAliasName(aliasName);
  const { caller, services } = context;
  const alias = await services.store.getAlias(caller.accountId, caller.region, aliasName);
  const key = alias && (await services.store.getKey(storeKeyId({ keyId: alias.targetKeyId, region: alias.region })));
  if (!alias || !key)
    throw new NotFoundException(`Alias ${aliasArn(caller.region, caller.accountId, aliasName)} is not found.`);
  context.resources.push(keyArn(key));
  await authorize(context, "kms:DeleteAlias", key);
  await services.store.deleteAlias(caller.accountId, caller.region, aliasName);
  return {};
};
