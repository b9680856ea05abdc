import type { MessageType, SigningAlgorithmSpec } from "@aws-sdk/client-kms";
import { ValidationException } from "../../domain/errors.js";
import { type AlibabaRequest, optionalBytes, optionalString, requiredString } from "./request.js";

/**
 * Alibaba's signing algorithm names and the AWS ones they are. Alibaba documents the SHA-256
 * members; the SHA-384/512 ones follow its pattern for the larger keys Trent also has, and
 * Ed25519 and ML-DSA keep their AWS names, which Alibaba has no word for.
 */
const SIGNING_ALGORITHMS: Readonly<Record<string, SigningAlgorithmSpec>> = {
  RSA_PSS_SHA_256: "RSASSA_PSS_SHA_256",
  RSA_PSS_SHA_384: "RSASSA_PSS_SHA_384",
  RSA_PSS_SHA_512: "RSASSA_PSS_SHA_512",
  RSA_PKCS1_SHA_256: "RSASSA_PKCS1_V1_5_SHA_256",
  RSA_PKCS1_SHA_384: "RSASSA_PKCS1_V1_5_SHA_384",
  RSA_PKCS1_SHA_512: "RSASSA_PKCS1_V1_5_SHA_512",
  ECDSA_SHA_256: "ECDSA_SHA_256",
  ECDSA_SHA_384: "ECDSA_SHA_384",
  ECDSA_SHA_512: "ECDSA_SHA_512",
  SM2DSA: "SM2DSA",
  ED25519_SHA_512: "ED25519_SHA_512",
  ED25519_PH_SHA_512: "ED25519_PH_SHA_512",
  ML_DSA_SHAKE_256: "ML_DSA_SHAKE_256",
};

export interface SigningRequest {
  readonly KeyId: string;
  readonly algorithm: string;
  readonly SigningAlgorithm: SigningAlgorithmSpec;
  readonly MessageType: MessageType;
  readonly Message: Uint8Array;
}

/**
 * Sign's and Verify's common fields, as the AWS operations take them. Older SDKs send a digest in
 * the legacy Digest field instead of Message; that is a DIGEST message.
 */
export function signingRequest(input: AlibabaRequest): SigningRequest {
  const KeyId = requiredString(input, "KeyId");
  const algorithm = requiredString(input, "Algorithm");
  const SigningAlgorithm = Object.hasOwn(SIGNING_ALGORITHMS, algorithm) ? SIGNING_ALGORITHMS[algorithm] : undefined;
  if (SigningAlgorithm === undefined) {
    throw new ValidationException(`The Param Algorithm is invalid: ${algorithm} is not a signing algorithm.`);
  }
  const message = optionalBytes(input, "Message");
  const digest = optionalBytes(input, "Digest");
  const messageType = optionalString(input, "MessageType") ?? (message === undefined && digest ? "DIGEST" : "RAW");
  if (messageType !== "RAW" && messageType !== "DIGEST") {
    throw new ValidationException(`The Param MessageType is invalid: ${messageType} is neither RAW nor DIGEST.`);
  }
  const Message = message ?? digest;
  if (Message === undefined) throw new ValidationException("The Param Message is required.");
  return { KeyId, algorithm, SigningAlgorithm, MessageType: messageType, Message };
}
