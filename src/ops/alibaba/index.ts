import type { OperationContext } from "../context.js";
import { advanceDecrypt } from "./advance-decrypt.js";
import { advanceEncrypt } from "./advance-encrypt.js";
import { advanceGenerateDataKey } from "./advance-generate-data-key.js";
import { advanceGenerateDataKeyPair } from "./advance-generate-data-key-pair.js";
import { advanceGenerateDataKeyPairWithoutPlaintext } from "./advance-generate-data-key-pair-without-plaintext.js";
import { decrypt } from "./decrypt.js";
import { encrypt } from "./encrypt.js";
import { generateDataKey } from "./generate-data-key.js";
import { generateDataKeyPair } from "./generate-data-key-pair.js";
import { generateDataKeyPairWithoutPlaintext } from "./generate-data-key-pair-without-plaintext.js";
import { generateRandom } from "./generate-random.js";
import { getPublicKey } from "./get-public-key.js";
import { hmac } from "./hmac.js";
import { sign } from "./sign.js";
import { verify } from "./verify.js";

/**
 * One operation of Alibaba's KMS instance API (dkms-gcs-0.2). Input and output use api.proto's
 * field names; bytes are Uint8Array. Errors are the domain's KmsErrors; the edge adds RequestId.
 */
export type AlibabaOperation = (
  context: OperationContext,
  input: Record<string, unknown>,
) => Promise<Record<string, unknown>>;

/** Keyed by x-kms-apiname. GetSecretValue (the secrets manager) is not Trent's. */
export const ALIBABA_OPERATIONS: Readonly<Record<string, AlibabaOperation>> = {
  Encrypt: encrypt,
  Decrypt: decrypt,
  AdvanceEncrypt: advanceEncrypt,
  AdvanceDecrypt: advanceDecrypt,
  GenerateDataKey: generateDataKey,
  AdvanceGenerateDataKey: advanceGenerateDataKey,
  GenerateDataKeyPair: generateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPairWithoutPlaintext,
  AdvanceGenerateDataKeyPair: advanceGenerateDataKeyPair,
  AdvanceGenerateDataKeyPairWithoutPlaintext: advanceGenerateDataKeyPairWithoutPlaintext,
  GenerateRandom: generateRandom,
  GetPublicKey: getPublicKey,
  Sign: sign,
  Verify: verify,
  Hmac: hmac,
};
