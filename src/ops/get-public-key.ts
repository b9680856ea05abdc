import type { CustomerMasterKeySpec, GetPublicKeyRequest, GetPublicKeyResponse } from "@aws-sdk/client-kms";
import { UnsupportedOperationException } from "../domain/errors.js";
import { algorithmLists, keyArn } from "../domain/key.js";
import { isAsymmetric } from "../domain/key-specs.js";
import { asymmetricKey } from "./asymmetric-access.js";
import type { Operation } from "./context.js";
import { requireUsable, resolveKey } from "./key-access.js";

/** The DER SubjectPublicKeyInfo of an asymmetric key, with what the key may be used for. */
export const getPublicKey: Operation<GetPublicKeyRequest, GetPublicKeyResponse> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:GetPublicKey");
  requireUsable(key);
  if (!isAsymmetric(key.keySpec)) {
    throw new UnsupportedOperationException(
      `${keyArn(key)} key spec is ${key.keySpec}: only asymmetric KMS keys have a public key.`,
    );
  }
  const { spki } = await asymmetricKey(context.services, key);
  return {
    KeyId: keyArn(key),
    PublicKey: Buffer.from(spki),
    ...(key.keySpec.startsWith("ML_DSA") || key.keySpec === "ECC_NIST_EDWARDS25519"
      ? {}
      : { CustomerMasterKeySpec: key.keySpec as CustomerMasterKeySpec }),
    KeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...algorithmLists(key),
  };
};
