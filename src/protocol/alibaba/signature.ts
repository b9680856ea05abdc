import { createHash, constants as cryptoConstants, type KeyObject, verify } from "node:crypto";

/** The only signature method the instance API SDKs use. */
export const SIGNATURE_METHOD = "RSA_PKCS1_SHA_256";
const SIGNED_HEADER_PREFIX = "x-kms-";
const BEARER = "Bearer ";
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The `content-sha256` header value the SDKs send: SHA-256 of the body, upper-case hex. */
export function contentSha256(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex").toUpperCase();
}

/**
 * The string the dkms-gcs SDKs sign (openapi-util GetStringToSign): method, content-sha256,
 * content-type and date lines, then every `x-kms-*` header as `name:trimmed value` sorted by name,
 * then the resource. Header names are matched case-insensitively; absent values count as "".
 */
export function stringToSign(method: string, headers: Readonly<Record<string, string>>, path: string): string {
  const byName = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) byName.set(name.toLowerCase(), value);
  const signed = [...byName.keys()]
    .filter((name) => name.startsWith(SIGNED_HEADER_PREFIX))
    .sort()
    .map((name) => `${name}:${(byName.get(name) as string).trim()}\n`)
    .join("");
  const line = (name: string) => `${byName.get(name) ?? ""}\n`;
  return `${method}\n${line("content-sha256")}${line("content-type")}${line("date")}${signed}${path}`;
}

/**
 * Checks an `Authorization: Bearer <base64>` header against the string-to-sign with the client
 * key's RSA public key (RSASSA-PKCS1-v1_5, SHA-256). False for any malformed header.
 */
export function verifyAuthorization(publicKey: KeyObject, toSign: string, authorization: string): boolean {
  if (publicKey.asymmetricKeyType !== "rsa" || !authorization.startsWith(BEARER)) return false;
  const encoded = authorization.slice(BEARER.length).trim();
  if (encoded === "" || !BASE64.test(encoded)) return false;
  return verify(
    "sha256",
    Buffer.from(toSign, "utf8"),
    { key: publicKey, padding: cryptoConstants.RSA_PKCS1_PADDING },
    Buffer.from(encoded, "base64"),
  );
}
