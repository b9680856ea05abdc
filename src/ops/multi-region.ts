import { DisabledException, KMSInvalidStateException, UnsupportedOperationException } from "../domain/errors.js";
import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import type { OperationContext } from "./context.js";

/** The caller acting in another region: what a multi-Region operation asks of the authorizer there. */
export function inRegion(context: OperationContext, region: string): OperationContext {
  return { ...context, caller: { ...context.caller, region } };
}

export function isReplica(key: KmsKey): boolean {
  return key.primaryRegion !== undefined && key.primaryRegion !== key.region;
}

/** The primary key's ARN of a multi-Region key. */
export function primaryArn(key: KmsKey): string {
  return keyArn({ ...key, region: key.primaryRegion ?? key.region });
}

/** ReplicateKey and UpdatePrimaryRegion work on a multi-Region primary key only. */
export function requirePrimary(key: KmsKey): void {
  if (key.primaryRegion === undefined) {
    throw new UnsupportedOperationException(`${keyArn(key)} is not a multi-Region key.`);
  }
  if (isReplica(key)) {
    throw new UnsupportedOperationException(
      `${keyArn(key)} is a multi-Region replica key. Use its primary key, ${primaryArn(key)}.`,
    );
  }
}

/** Rotation is a shared property of multi-Region keys, managed on the primary only. */
export function requireNotReplica(key: KmsKey): void {
  if (isReplica(key)) {
    throw new UnsupportedOperationException(
      `${keyArn(key)} is a multi-Region replica key: manage its rotation on its primary key, ${primaryArn(key)}.`,
    );
  }
}

/** The state a multi-Region key must be in to be replicated or to change its primary. */
export function requireEnabled(key: KmsKey): void {
  if (key.keyState === "Enabled") return;
  if (key.keyState === "Disabled") throw new DisabledException(`${keyArn(key)} is disabled.`);
  throw new KMSInvalidStateException(`${keyArn(key)} is ${key.keyState}.`);
}

/** The primary copy of a multi-Region key (the key itself when it is the primary or single-Region). */
export async function primaryCopy(context: OperationContext, key: KmsKey): Promise<KmsKey> {
  if (!isReplica(key)) return key;
  const primary = await context.services.store.getKey(
    storeKeyId({ keyId: key.keyId, region: key.primaryRegion as string }),
  );
  return primary ?? key;
}

/** An AWS partition's regions share a prefix: a replica stays in its primary's partition. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  if (region.startsWith("us-iso-")) return "aws-iso";
  return "aws";
}
