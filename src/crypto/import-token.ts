import { randomBytes } from "node:crypto";
import type { AlgorithmSpec, WrappingKeySpec } from "@aws-sdk/client-kms";
import type { RootOfTrust } from "../root/root-of-trust.js";

const TOKEN_FORMAT_VERSION = 1;
const TOKEN_ID_BYTES = 16;
const ALGORITHMS: readonly AlgorithmSpec[] = [
  "RSAES_PKCS1_V1_5",
  "RSAES_OAEP_SHA_1",
  "RSAES_OAEP_SHA_256",
  "RSA_AES_KEY_WRAP_SHA_1",
  "RSA_AES_KEY_WRAP_SHA_256",
  "SM2PKE",
];
const WRAPPING_KEY_SPECS: readonly WrappingKeySpec[] = ["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];

/** What an import token says: for which key, until when, and how the material is wrapped. */
export interface ImportTokenClaims {
  readonly keyArn: string;
  readonly validTo: Date;
  readonly algorithm: AlgorithmSpec;
  readonly wrappingKeySpec: WrappingKeySpec;
}

/** The token is not one Trent issued, is for another key, or was modified. */
export class ImportTokenError extends Error {}

/**
 * An import token carries its own wrapping private key, wrapped under the root of trust with the
 * token id and every claim bound as associated data, so nothing is stored per token and a token
 * with any byte changed (or its claims moved to another key) does not unwrap:
 *
 *   u8 format (1) ‖ token id (16) ‖ u64 ValidTo (ms) ‖ u8 algorithm ‖ u8 wrapping key spec ‖
 *   u16 length ‖ key ARN (UTF-8) ‖ wrapped PKCS#8 private key
 */
export async function issueImportToken(
  root: RootOfTrust,
  claims: ImportTokenClaims,
  privateKey: Buffer,
): Promise<Buffer> {
  const tokenId = randomBytes(TOKEN_ID_BYTES);
  const arn = Buffer.from(claims.keyArn, "utf8");
  const header = Buffer.alloc(1 + TOKEN_ID_BYTES + 8 + 1 + 1 + 2);
  header.writeUInt8(TOKEN_FORMAT_VERSION, 0);
  tokenId.copy(header, 1);
  header.writeBigUInt64BE(BigInt(claims.validTo.getTime()), 1 + TOKEN_ID_BYTES);
  header.writeUInt8(ALGORITHMS.indexOf(claims.algorithm), 1 + TOKEN_ID_BYTES + 8);
  header.writeUInt8(WRAPPING_KEY_SPECS.indexOf(claims.wrappingKeySpec), 1 + TOKEN_ID_BYTES + 9);
  header.writeUInt16BE(arn.length, 1 + TOKEN_ID_BYTES + 10);
  try {
    const wrapped = await root.wrap(privateKey, wrapContext(tokenId, claims));
    return Buffer.concat([header, arn, wrapped]);
  } finally {
    privateKey.fill(0);
  }
}

/** The claims of a token, not yet authenticated: `openImportToken` is what proves them. */
export function readImportToken(token: Uint8Array): ImportTokenClaims & { tokenId: Buffer; wrapped: Buffer } {
  const bytes = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
  const fixed = 1 + TOKEN_ID_BYTES + 8 + 1 + 1 + 2;
  if (bytes.length < fixed || bytes[0] !== TOKEN_FORMAT_VERSION) throw new ImportTokenError("malformed import token");
  const algorithm = ALGORITHMS[bytes.readUInt8(1 + TOKEN_ID_BYTES + 8)];
  const wrappingKeySpec = WRAPPING_KEY_SPECS[bytes.readUInt8(1 + TOKEN_ID_BYTES + 9)];
  const arnLength = bytes.readUInt16BE(1 + TOKEN_ID_BYTES + 10);
  if (algorithm === undefined || wrappingKeySpec === undefined || bytes.length <= fixed + arnLength) {
    throw new ImportTokenError("malformed import token");
  }
  return {
    tokenId: Buffer.from(bytes.subarray(1, 1 + TOKEN_ID_BYTES)),
    validTo: new Date(Number(bytes.readBigUInt64BE(1 + TOKEN_ID_BYTES))),
    algorithm,
    wrappingKeySpec,
    keyArn: bytes.subarray(fixed, fixed + arnLength).toString("utf8"),
    wrapped: Buffer.from(bytes.subarray(fixed + arnLength)),
  };
}

/** The wrapping private key (PKCS#8 DER) of a token whose claims all hold; ImportTokenError otherwise. */
export async function openImportToken(root: RootOfTrust, token: ReturnType<typeof readImportToken>): Promise<Buffer> {
  try {
    return await root.unwrap(token.wrapped, wrapContext(token.tokenId, token));
  } catch {
    throw new ImportTokenError("the import token does not authenticate");
  }
}

function wrapContext(tokenId: Buffer, claims: ImportTokenClaims): string {
  const { keyArn, algorithm, wrappingKeySpec, validTo } = claims;
  return `trent/import-token/${tokenId.toString("hex")}/${keyArn}/${algorithm}/${wrappingKeySpec}/${validTo.getTime()}`;
}
