import type { CreateKeyRequest, KeyMetadata } from "@aws-sdk/client-kms";
import {
  type ContentKeyDerivation,
  decryptBlob,
  encryptBlob,
  KEY_TYPE_TOKEN_DERIVED_AES_256_GCM,
  MalformedCiphertextError,
  parseBlobHeader,
} from "../crypto/ciphertext.js";
import type { CustomKeyStoreRecord } from "../domain/custom-key-store.js";
import {
  CustomKeyStoreInvalidStateException,
  KeyUnavailableException,
  KMSInternalException,
  KMSInvalidStateException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { describeKey, type KmsKey, keyArn, type Tag } from "../domain/key.js";
import { isSessionLost, type Pkcs11Token, Pkcs11TokenError, type TokenKey } from "../hsm/pkcs11-token.js";
import type { OperationContext, Services } from "./context.js";
import { findCustomKeyStore, tokenClusters, tokenOfStore, unwrapPassword } from "./custom-key-store-access.js";

/** Keys in a custom key store never rotate: their one version is the token object. */
const TOKEN_KEY_VERSION = 1;

/**
 * CreateKey's rules for a key in an AWS CloudHSM key store, checked before anything else: Origin
 * AWS_CLOUDHSM goes with CustomKeyStoreId, and only symmetric encryption keys live there.
 */
export function requireCloudHsmKeyRequest(input: CreateKeyRequest, keySpec: string, keyUsage: string): void {
  const inStore = input.CustomKeyStoreId !== undefined;
  if (input.XksKeyId !== undefined || input.Origin === "EXTERNAL_KEY_STORE") {
    throw new UnsupportedOperationException(
      "Trent does not support external key stores: they need an external key store proxy (XKS).",
    );
  }
  if (!inStore && input.Origin === "AWS_CLOUDHSM") {
    throw new ValidationException("Origin AWS_CLOUDHSM requires the CustomKeyStoreId of an AWS CloudHSM key store.");
  }
  if (!inStore) return;
  if (input.Origin !== "AWS_CLOUDHSM") {
    throw new ValidationException(
      `To create a KMS key in an AWS CloudHSM key store, the Origin must be AWS_CLOUDHSM, not ${input.Origin ?? "AWS_KMS"}.`,
    );
  }
  if (keySpec !== "SYMMETRIC_DEFAULT" || keyUsage !== "ENCRYPT_DECRYPT") {
    throw new UnsupportedOperationException(
      `A custom key store holds only symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT), not ${keySpec} for ${keyUsage}.`,
    );
  }
  if (input.MultiRegion === true) {
    throw new UnsupportedOperationException("You cannot create a multi-Region key in a custom key store.");
  }
}

/**
 * Generates the key in its store's token (a non-extractable HMAC key labelled with the key id)
 * and records the key, which has no key material outside the token. The store must be CONNECTED.
 */
export async function createKeyInCustomKeyStore(
  context: OperationContext,
  key: KmsKey & { readonly customKeyStoreId: string },
  tags: readonly Tag[],
): Promise<KeyMetadata> {
  const { services } = context;
  const store = await findCustomKeyStore(context, key.customKeyStoreId);
  if (store.connectionState !== "CONNECTED") {
    throw new CustomKeyStoreInvalidStateException(
      `Custom key store '${store.customKeyStoreId}' is ${store.connectionState}; CreateKey needs it CONNECTED.`,
    );
  }
  const token = await withSessionRetry(services, key, async () => {
    const session = await sessionOf(services, store, key);
    usingToken(key, () => session.generateHmacKey(key.keyId));
    return session;
  });
  try {
    await services.store.createKey(key, null, tags);
  } catch (error) {
    try {
      const made = token.findKey(key.keyId);
      if (made !== undefined) token.destroyKey(made);
    } catch {
      // Left in the token as orphaned key material, as AWS leaves it when it cannot clean up.
    }
    throw error;
  }
  return { ...describeKey(key), CloudHsmClusterId: store.cloudHsmClusterId };
}

/** DescribeKey's additions: the store and its cluster, and Unavailable while the store is not connected. */
export async function describeCustomKeyStoreKey(services: Services, key: KmsKey, metadata: KeyMetadata): Promise<void> {
  if (key.customKeyStoreId === undefined) return;
  const store = await services.store.customKeyStores.getCustomKeyStore(key.customKeyStoreId);
  metadata.CustomKeyStoreId = key.customKeyStoreId;
  if (store === undefined) return;
  metadata.CloudHsmClusterId = store.cloudHsmClusterId;
  if (store.connectionState !== "CONNECTED" && (key.keyState === "Enabled" || key.keyState === "Disabled")) {
    metadata.KeyState = "Unavailable";
    metadata.Enabled = false;
  }
}

/** A ciphertext under a key in a custom key store: its content key derived in the token (docs/ciphertext-format.md). */
export function sealInCustomKeyStore(
  services: Services,
  key: KmsKey,
  plaintext: Uint8Array,
  encodedContext: Buffer,
): Promise<Buffer> {
  return withSessionRetry(services, key, async () => {
    const derive = await derivationInToken(services, key);
    return usingToken(key, () =>
      encryptBlob(
        derive,
        { keyId: key.keyId, keyVersion: TOKEN_KEY_VERSION, keyType: KEY_TYPE_TOKEN_DERIVED_AES_256_GCM },
        plaintext,
        encodedContext,
      ),
    );
  });
}

/** Opens what sealInCustomKeyStore made; MalformedCiphertextError when it does not authenticate or is another kind. */
export async function openInCustomKeyStore(
  services: Services,
  key: KmsKey,
  blob: Uint8Array,
  encodedContext: Buffer,
): Promise<Buffer> {
  const header = parseBlobHeader(blob, [KEY_TYPE_TOKEN_DERIVED_AES_256_GCM]);
  if (header.keyVersion !== TOKEN_KEY_VERSION) {
    throw new MalformedCiphertextError("not a ciphertext of a key in a custom key store");
  }
  return withSessionRetry(services, key, async () => {
    const derive = await derivationInToken(services, key);
    return usingToken(key, () => decryptBlob(derive, blob, encodedContext, KEY_TYPE_TOKEN_DERIVED_AES_256_GCM));
  });
}

/**
 * After a key in a custom key store is deleted: its token object too, when the store is
 * connected. Otherwise it stays in the token as orphaned key material, as AWS documents.
 */
export async function destroyKeyInToken(services: Services, key: KmsKey): Promise<boolean> {
  if (key.customKeyStoreId === undefined) return false;
  const store = await services.store.customKeyStores.getCustomKeyStore(key.customKeyStoreId);
  if (store === undefined || store.connectionState !== "CONNECTED") return false;
  try {
    const token = await tokenOfStore(services, store);
    const handle = token.findKey(key.keyId);
    if (handle === undefined) return false;
    token.destroyKey(handle);
    return true;
  } catch {
    return false;
  }
}

/**
 * The per-ciphertext key: HMAC-SHA256 in the token, under the key's token object, of the salt
 * and the header bytes before it. Only the derived key leaves the token, never the key itself.
 */
async function derivationInToken(services: Services, key: KmsKey): Promise<ContentKeyDerivation> {
  const store =
    key.customKeyStoreId === undefined
      ? undefined
      : await services.store.customKeyStores.getCustomKeyStore(key.customKeyStoreId);
  if (store === undefined)
    throw new KMSInternalException(`${keyArn(key)} names a custom key store that does not exist.`);
  if (store.connectionState !== "CONNECTED") {
    // Disconnected by another process or node: this one logs out of the token too.
    await tokenClusters(services).close(store.customKeyStoreId);
    throw new KMSInvalidStateException(
      `${keyArn(key)} is unavailable because its custom key store ${store.customKeyStoreId} is ${store.connectionState}. Connect the custom key store (ConnectCustomKeyStore) to use it.`,
    );
  }
  const token = await sessionOf(services, store, key);
  const handle: TokenKey | undefined = usingToken(key, () => token.findKey(key.keyId));
  if (handle === undefined) {
    throw new KMSInvalidStateException(
      `The key material of ${keyArn(key)} is not in the token of custom key store ${store.customKeyStoreId} (cluster ${store.cloudHsmClusterId}).`,
    );
  }
  return (salt, info) => token.hmacSha256(handle, Buffer.concat([salt, info]));
}

async function sessionOf(services: Services, store: CustomKeyStoreRecord, key: KmsKey): Promise<Pkcs11Token> {
  try {
    return await tokenClusters(services).session(
      store.customKeyStoreId,
      store.connectionGeneration,
      store.cloudHsmClusterId,
      () => unwrapPassword(services, store),
    );
  } catch (error) {
    throw unavailable(key, error);
  }
}

/** A token that fails mid-operation (removed, logged out) makes the key unavailable for now, not the request malformed. */
function usingToken<T>(key: KmsKey, use: () => T): T {
  try {
    return use();
  } catch (error) {
    if (error instanceof Pkcs11TokenError) throw unavailable(key, error);
    throw error;
  }
}

/** The token's failure behind a KeyUnavailableException, when it was one. */
const tokenFailures = new WeakMap<KeyUnavailableException, Pkcs11TokenError>();

function unavailable(key: KmsKey, error: unknown): KeyUnavailableException {
  const failure = new KeyUnavailableException(
    `${keyArn(key)} is not available: the token of its custom key store cannot be used (${(error as Error).message}).`,
  );
  if (error instanceof Pkcs11TokenError) tokenFailures.set(failure, error);
  return failure;
}

/**
 * Runs `use` with this process's session on the key's token; when that session turns out to be
 * lost (the token was removed and put back, the HSM restarted), drops it and tries once more on a
 * new one, so the process recovers without a reconnection of the store.
 */
async function withSessionRetry<T>(services: Services, key: KmsKey, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (error) {
    const cause = error instanceof KeyUnavailableException ? tokenFailures.get(error) : undefined;
    if (key.customKeyStoreId === undefined || !isSessionLost(cause)) throw error;
    await tokenClusters(services).dropIfLost(key.customKeyStoreId);
    return use();
  }
}
