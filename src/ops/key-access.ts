import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import {
  DisabledException,
  InvalidKeyUsageException,
  KMSInvalidStateException,
  NotFoundException,
} from "../domain/errors.js";
import { aliasArn, type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import { parseKeyReference } from "../domain/key-reference.js";
import type { RequestConditions } from "../policy/authorizer.js";
import type { RequestedGrant } from "../policy/grants.js";
import { authorize } from "./authorize.js";
import type { OperationContext } from "./context.js";
import { withMaterialExpiry } from "./imported-key-material.js";

/**
 * Resolves a KeyId parameter to a key, checks that the caller may perform `action` on it, and
 * records it for the audit trail. Every operation accepts all four spellings (key id, key ARN,
 * alias name, alias ARN); AWS limits some management operations to the first two, and a client
 * written for AWS never depends on that refusal.
 */
export async function resolveKey(
  context: OperationContext,
  keyIdParameter: string,
  action: string,
  conditions: RequestConditions = {},
  requestedGrant?: RequestedGrant,
): Promise<KmsKey> {
  const key = await findKey(context, keyIdParameter);
  admitKeyUse(context, action, key, conditions);
  context.resources.push(keyArn(key));
  const requestAlias = parseKeyReference(keyIdParameter);
  const aliasCondition =
    requestAlias.kind === "aliasName" || requestAlias.kind === "aliasArn"
      ? { "kms:RequestAlias": requestAlias.aliasName }
      : {};
  await authorize(context, action, key, { ...aliasCondition, ...conditions }, requestedGrant);
  return key;
}

/**
 * Charges a cryptographic use of `key` to the caller's request quota for its key type (or, for
 * the data-key-pair actions, the pair's spec), once per key in a request; management actions were
 * charged by operation name at the edge. Called before the key joins `context.resources`.
 */
export function admitKeyUse(
  context: OperationContext,
  action: string,
  key: KmsKey,
  conditions: RequestConditions = {},
): void {
  if (context.resources.includes(keyArn(key))) return;
  const pairSpec = conditions["kms:DataKeyPairSpec"];
  context.services.quotas.admitKeyUse(
    context.caller,
    action,
    key,
    typeof pairSpec === "string" ? (pairSpec as DataKeyPairSpec) : undefined,
  );
}

/** The key a KeyId parameter names, not yet authorized: `resolveKey` is the way to use a key. */
export async function findKey(context: OperationContext, keyIdParameter: string): Promise<KmsKey> {
  const { caller, services } = context;
  const reference = parseKeyReference(keyIdParameter);
  switch (reference.kind) {
    case "keyId":
    case "keyArn": {
      const accountId = reference.kind === "keyArn" ? reference.accountId : caller.accountId;
      const region = reference.kind === "keyArn" ? reference.region : caller.region;
      if (region !== caller.region) throw new NotFoundException(`Invalid arn ${region}`);
      const key = await services.store.getKey(storeKeyId({ keyId: reference.keyId, region }));
      if (!key || key.accountId !== accountId || key.region !== region) {
        throw new NotFoundException(`Key '${keyArn({ region, accountId, keyId: reference.keyId })}' does not exist`);
      }
      return withMaterialExpiry(key, services.now());
    }
    case "aliasName":
    case "aliasArn": {
      const accountId = reference.kind === "aliasArn" ? reference.accountId : caller.accountId;
      const region = reference.kind === "aliasArn" ? reference.region : caller.region;
      if (region !== caller.region) throw new NotFoundException(`Invalid arn ${region}`);
      const alias = await services.store.getAlias(accountId, region, reference.aliasName);
      const key = alias && (await services.store.getKey(storeKeyId({ keyId: alias.targetKeyId, region })));
      if (!key) throw new NotFoundException(`Alias ${aliasArn(region, accountId, reference.aliasName)} is not found.`);
      return withMaterialExpiry(key, services.now());
    }
    case "invalid":
      throw new NotFoundException(`Invalid keyId '${keyIdParameter}'`);
  }
}

/** Refuses keys pending deletion (and other transitional states) for management operations. */
export function requireNotPendingDeletion(key: KmsKey): void {
  if (key.keyState === "PendingDeletion" || key.keyState === "PendingReplicaDeletion") {
    throw new KMSInvalidStateException(`${keyArn(key)} is pending deletion.`);
  }
  if (key.keyState === "Creating" || key.keyState === "Updating" || key.keyState === "Unavailable") {
    throw new KMSInvalidStateException(`${keyArn(key)} is ${key.keyState.toLowerCase()}.`);
  }
}

/** The state check AWS applies before any cryptographic operation. */
export function requireUsable(key: KmsKey): void {
  if (key.keyState === "Enabled") return;
  if (key.keyState === "Disabled") throw new DisabledException(`${keyArn(key)} is disabled.`);
  if (key.keyState === "PendingImport") throw new KMSInvalidStateException(`${keyArn(key)} is pending import.`);
  requireNotPendingDeletion(key);
  throw new KMSInvalidStateException(`${keyArn(key)} is ${key.keyState}.`);
}

/** A usable symmetric encryption key, as Encrypt, Decrypt and the data-key operations need. */
export function requireSymmetricEncryptionKey(key: KmsKey, operation: string): void {
  requireUsable(key);
  if (key.keyUsage !== "ENCRYPT_DECRYPT") {
    throw new InvalidKeyUsageException(
      `${keyArn(key)} key usage is ${key.keyUsage} which is not valid for ${operation}.`,
    );
  }
  if (key.keySpec !== "SYMMETRIC_DEFAULT") {
    throw new InvalidKeyUsageException(
      `${keyArn(key)} key spec is ${key.keySpec} which is not valid for ${operation}.`,
    );
  }
}
