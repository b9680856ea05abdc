import type {
  AlgorithmSpec,
  GetParametersForImportRequest,
  GetParametersForImportResponse,
  KeySpec,
  WrappingKeySpec,
} from "@aws-sdk/client-kms";
import { issueImportToken } from "../crypto/import-token.js";
import { UnsupportedOperationException, ValidationException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireExternalOrigin } from "./imported-key-material.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

/** Each wrapping public key and import token set is valid for 24 hours. */
export const IMPORT_PARAMETERS_LIFETIME_MS = 24 * 60 * 60 * 1000;

/**
 * A fresh wrapping key pair per call, from the warm key-pair pool: the public key (DER SPKI) goes
 * to the caller, the private key only inside the import token, wrapped under the root.
 */
export const getParametersForImport: Operation<GetParametersForImportRequest, GetParametersForImportResponse> = async (
  context,
  input,
) => {
  const algorithm = input.WrappingAlgorithm as AlgorithmSpec;
  const wrappingKeySpec = input.WrappingKeySpec as WrappingKeySpec;
  const key = await resolveKey(context, input.KeyId as string, "kms:GetParametersForImport", {
    "kms:WrappingAlgorithm": algorithm,
    "kms:WrappingKeySpec": wrappingKeySpec,
  });
  requireExternalOrigin(key);
  requireNotPendingDeletion(key);
  requireWrappingFits(key.keySpec, algorithm, wrappingKeySpec, context.services.allowSm2);
  const { services } = context;
  const validTo = new Date(services.now().getTime() + IMPORT_PARAMETERS_LIFETIME_MS);
  const pair = await services.keyPairs.take(wrappingKeySpec);
  const token = await issueImportToken(
    services.root,
    { keyArn: keyArn(key), validTo, algorithm, wrappingKeySpec },
    pair.privateKey,
  );
  return { KeyId: keyArn(key), ImportToken: token, PublicKey: pair.publicKey, ParametersValidTo: validTo };
};

/**
 * AWS's rules for the wrapping algorithm and key ("Select a wrapping algorithm"): RSAES_PKCS1_V1_5
 * is no longer offered; SM2PKE goes with an SM2 wrapping key and only with it; an RSA private key
 * is too long for RSA-OAEP and needs an RSA_AES algorithm; an ECC_NIST_P521 key is too long for
 * RSA-OAEP under an RSA_2048 wrapping key.
 */
export function requireWrappingFits(
  keySpec: KeySpec,
  algorithm: AlgorithmSpec,
  wrappingKeySpec: WrappingKeySpec,
  allowSm2: boolean,
): void {
  if (algorithm === "RSAES_PKCS1_V1_5") {
    throw new ValidationException(
      "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.",
    );
  }
  if ((algorithm === "SM2PKE") !== (wrappingKeySpec === "SM2")) {
    throw new ValidationException(
      `The wrapping algorithm ${algorithm} cannot be used with the wrapping key spec ${wrappingKeySpec}: SM2PKE requires the SM2 wrapping key spec, and the SM2 wrapping key spec requires SM2PKE.`,
    );
  }
  if (wrappingKeySpec === "SM2" && !allowSm2) {
    throw new UnsupportedOperationException("WrappingKeySpec SM2 is not supported in this region.");
  }
  const oaep = algorithm === "RSAES_OAEP_SHA_1" || algorithm === "RSAES_OAEP_SHA_256";
  if (oaep && keySpec.startsWith("RSA_")) {
    throw new ValidationException(
      `The wrapping algorithm ${algorithm} cannot wrap ${keySpec} key material. To import an RSA private key, use RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.`,
    );
  }
  if (oaep && keySpec === "ECC_NIST_P521" && wrappingKeySpec === "RSA_2048") {
    throw new ValidationException(
      `The wrapping algorithm ${algorithm} with the RSA_2048 wrapping key spec cannot wrap ECC_NIST_P521 key material. Use an RSA_AES wrapping algorithm or a longer RSA wrapping key.`,
    );
  }
}
