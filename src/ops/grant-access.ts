import { InvalidGrantIdException, NotFoundException } from "../domain/errors.js";
import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import { parseKeyReference } from "../domain/key-reference.js";
import { isGrantId } from "../policy/grants.js";
import type { Grant } from "../store/store.js";
import type { OperationContext } from "./context.js";

export function requireGrantId(grantId: string): void {
  if (!isGrantId(grantId)) throw new InvalidGrantIdException(`Invalid grant ID ${grantId}`);
}

export function grantNotFound(grantId: string, key: KmsKey): NotFoundException {
  return new NotFoundException(`Grant ID ${grantId} not found for key ${keyArn(key)}`);
}

/** The grant with this id on this key; NotFoundException when the key has no such grant. */
export async function grantOnKey(context: OperationContext, key: KmsKey, grantId: string): Promise<Grant> {
  requireGrantId(grantId);
  const grant = await context.services.store.getGrant(grantId);
  if (!grant || grant.keyId !== storeKeyId(key)) throw grantNotFound(grantId, key);
  return grant;
}

/**
 * Whether a KeyId parameter names this key, read as resolveKey reads it (a bare key id or alias
 * name in the caller's account and region), without asking the authorizer about the key: RetireGrant
 * is authorized by the grant, not by the key's policy.
 */
export async function keyParameterNames(context: OperationContext, keyIdParameter: string, key: KmsKey) {
  const { caller, services } = context;
  const reference = parseKeyReference(keyIdParameter);
  switch (reference.kind) {
    case "keyId":
      return reference.keyId === key.keyId && key.accountId === caller.accountId && key.region === caller.region;
    case "keyArn":
      return reference.keyId === key.keyId && reference.accountId === key.accountId && reference.region === key.region;
    case "aliasName":
    case "aliasArn": {
      const accountId = reference.kind === "aliasArn" ? reference.accountId : caller.accountId;
      const region = reference.kind === "aliasArn" ? reference.region : caller.region;
      const alias = await services.store.getAlias(accountId, region, reference.aliasName);
      return alias?.targetKeyId === key.keyId && accountId === key.accountId && region === key.region;
    }
    case "invalid":
      return false;
  }
}

const PRINCIPAL_ACCOUNT = /^(?:arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.+|(\d{12}))$/;

/** The account of an IAM or STS principal ARN or a bare account id; null for a service principal. */
export function principalAccountId(principal: string): string | null {
  const match = PRINCIPAL_ACCOUNT.exec(principal);
  return match ? ((match[1] ?? match[2]) as string) : null;
}
