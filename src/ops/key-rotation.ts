import { KMSInvalidStateException, UnsupportedOperationException } from "../domain/errors.js";
import { type KmsKey, keyArn, type RotationType, storeKeyId } from "../domain/key.js";
import type { Services } from "./context.js";
import { requireUsable } from "./key-access.js";
import { requireNotReplica } from "./multi-region.js";

export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
const DAY_MS = 86_400_000;

export function rotationDueAfter(from: Date, periodInDays: number): Date {
  return new Date(from.getTime() + periodInDays * DAY_MS);
}

/**
 * Only symmetric encryption keys with KMS-generated material rotate; AWS refuses the rest with
 * UnsupportedOperationException (imported material, asymmetric and HMAC keys).
 */
export function requireRotatableKind(key: KmsKey): void {
  if (key.origin !== "AWS_KMS") {
    throw new UnsupportedOperationException(
      `${keyArn(key)} origin is ${key.origin} which is not valid for this operation.`,
    );
  }
  if (key.keySpec !== "SYMMETRIC_DEFAULT" || key.keyUsage !== "ENCRYPT_DECRYPT") {
    throw new UnsupportedOperationException(
      `${keyArn(key)} key spec is ${key.keySpec} which is not valid for this operation: only symmetric encryption keys rotate.`,
    );
  }
}

/** Enable/DisableKeyRotation and RotateKeyOnDemand: a rotatable key in the Enabled state (a primary, if multi-Region). */
export function requireRotatableNow(key: KmsKey): void {
  requireRotatableKind(key);
  requireNotReplica(key);
  requireUsable(key);
}

/** The reads (GetKeyRotationStatus, ListKeyRotations) work in every state but the transitional ones. */
export function requireReadableRotation(key: KmsKey): void {
  // Symmetric keys with imported material rotate on demand; their materials list while PendingImport too.
  const imported = key.origin === "EXTERNAL" && key.keySpec === "SYMMETRIC_DEFAULT";
  if (!imported) requireRotatableKind(key);
  if (
    (key.keyState === "PendingImport" && !imported) ||
    key.keyState === "Unavailable" ||
    key.keyState === "Creating"
  ) {
    throw new KMSInvalidStateException(
      `${keyArn(key)} is ${key.keyState === "PendingImport" ? "pending import" : key.keyState.toLowerCase()}.`,
    );
  }
}

/**
 * Makes a new backing-key version current. The store writes it only if the key is still at the
 * version read here (and, for automatic rotation, still Enabled and due), so concurrent attempts
 * on any number of nodes add exactly one version. Returns whether this attempt was the one.
 */
export async function rotate(
  services: Services,
  key: KmsKey,
  rotationType: RotationType,
  now: Date,
  nextRotationDate?: Date,
): Promise<boolean> {
  const wrappedMaterial = await services.backingKeys.create(key.keyId, key.currentVersion + 1);
  return services.store.rotateKey({
    keyId: storeKeyId(key),
    fromVersion: key.currentVersion,
    wrappedMaterial,
    rotationType,
    rotatedAt: now,
    ...(nextRotationDate === undefined ? {} : { nextRotationDate }),
  });
}
