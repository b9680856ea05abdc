import type { DataKeyPairSpec } from "../../crypto/data-key-pair-spec.js";
import { UnsupportedOperationException, ValidationException } from "../../domain/errors.js";
import type { KmsKey } from "../../domain/key.js";
import type { OperationContext } from "../context.js";
import { pemOf } from "./pem.js";
import { type AlibabaRequest, aadOf, optionalString, requireAesGcm, requiredString } from "./request.js";
import { sealLikeAdvanceEncrypt, sealLikeEncrypt, symmetricKeyOf } from "./sealing.js";

/** Alibaba's KeyPairSpec names and the pool's specs they are. */
const KEY_PAIR_SPECS: Readonly<Record<string, DataKeyPairSpec>> = {
  RSA_2048: "RSA_2048",
  RSA_3072: "RSA_3072",
  RSA_4096: "RSA_4096",
  EC_P256: "ECC_NIST_P256",
  EC_P256K: "ECC_SECG_P256K1",
  EC_SM2: "SM2",
};

interface DataKeyPair {
  readonly key: KmsKey;
  readonly keyPairSpec: string;
  /** SubjectPublicKeyInfo, and the PKCS#8 private key, in the requested format. */
  readonly publicKey: Buffer;
  readonly privateKey: Buffer;
}

/** Checks the request, authorizes `action` on the wrapping key, and takes a pair from the shared pool. */
async function takeDataKeyPair(
  context: OperationContext,
  input: AlibabaRequest,
  action: string,
  operation: string,
): Promise<DataKeyPair> {
  const keyPairSpec = requiredString(input, "KeyPairSpec");
  const spec = Object.hasOwn(KEY_PAIR_SPECS, keyPairSpec) ? KEY_PAIR_SPECS[keyPairSpec] : undefined;
  if (spec === undefined) {
    throw new ValidationException(
      `The Param KeyPairSpec is invalid: ${keyPairSpec} is not one of ${Object.keys(KEY_PAIR_SPECS).join(", ")}.`,
    );
  }
  if (spec === "SM2" && !context.services.allowSm2) {
    throw new UnsupportedOperationException("SM2 key pairs are not enabled on this Trent.");
  }
  const format = optionalString(input, "KeyFormat") ?? "PEM";
  if (format !== "PEM" && format !== "DER") {
    throw new ValidationException(`The Param KeyFormat is invalid: ${format} is neither PEM nor DER.`);
  }
  const key = await symmetricKeyOf(context, input, action, operation, { "kms:DataKeyPairSpec": spec });
  const pair = await context.services.keyPairs.take(spec);
  if (format === "DER") return { key, keyPairSpec, publicKey: pair.publicKey, privateKey: pair.privateKey };
  const privateKey = Buffer.from(pemOf(pair.privateKey, "PRIVATE KEY"), "ascii");
  pair.privateKey.fill(0);
  return { key, keyPairSpec, publicKey: Buffer.from(pemOf(pair.publicKey, "PUBLIC KEY"), "ascii"), privateKey };
}

/** A private key that cannot be sealed (say, its KMS key was deleted meanwhile) is wiped, not left behind. */
async function sealedOrWiped<T>(privateKey: Buffer, seal: () => Promise<T>): Promise<T> {
  try {
    return await seal();
  } catch (error) {
    privateKey.fill(0);
    throw error;
  }
}

/** GenerateDataKeyPair's body: the private key encrypted as Encrypt does, with its Iv. */
export async function dataKeyPairLikeEncrypt(
  context: OperationContext,
  input: AlibabaRequest,
  action: string,
  operation: string,
) {
  const algorithm = requireAesGcm(input);
  const pair = await takeDataKeyPair(context, input, action, operation);
  const sealed = await sealedOrWiped(pair.privateKey, () =>
    sealLikeEncrypt(context, pair.key, pair.privateKey, aadOf(input)),
  );
  return {
    KeyId: pair.key.keyId,
    Iv: sealed.Iv,
    KeyPairSpec: pair.keyPairSpec,
    PrivateKeyPlaintext: pair.privateKey,
    PrivateKeyCiphertextBlob: sealed.CiphertextBlob,
    PublicKey: pair.publicKey,
    Algorithm: algorithm,
  };
}

/** AdvanceGenerateDataKeyPair's body: the private key encrypted as AdvanceEncrypt does. */
export async function dataKeyPairLikeAdvanceEncrypt(
  context: OperationContext,
  input: AlibabaRequest,
  action: string,
  operation: string,
) {
  const pair = await takeDataKeyPair(context, input, action, operation);
  const sealed = await sealedOrWiped(pair.privateKey, () =>
    sealLikeAdvanceEncrypt(context, pair.key, pair.privateKey, aadOf(input)),
  );
  return {
    KeyId: pair.key.keyId,
    Iv: sealed.Iv,
    KeyPairSpec: pair.keyPairSpec,
    PrivateKeyPlaintext: pair.privateKey,
    PrivateKeyCiphertextBlob: sealed.CiphertextBlob,
    PublicKey: pair.publicKey,
    Algorithm: "AES_GCM",
    KeyVersionId: sealed.KeyVersionId,
  };
}
