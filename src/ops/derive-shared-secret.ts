import { createECDH, createPublicKey } from "node:crypto";
import type { DeriveSharedSecretRequest, DeriveSharedSecretResponse, KeySpec } from "@aws-sdk/client-kms";
import { ecPrivateScalar, readDer, readDerChild } from "../crypto/der.js";
import { ValidationException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import { keyMaterial, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";
import { sealForRecipient, withRecipient } from "./recipient.js";

interface Curve {
  readonly name: string;
  readonly openssl: string;
  /** The named-curve OID's DER content, in hex. */
  readonly oid: string;
}
const P256: Curve = { name: "P-256", openssl: "prime256v1", oid: "2a8648ce3d030107" };
const P384: Curve = { name: "P-384", openssl: "secp384r1", oid: "2b81040022" };
const P521: Curve = { name: "P-521", openssl: "secp521r1", oid: "2b81040023" };
const SM2: Curve = { name: "SM2", openssl: "SM2", oid: "2a811ccf5501822d" };
const SECP256K1: Curve = { name: "secp256k1", openssl: "secp256k1", oid: "2b8104000a" };
const KNOWN_CURVES = [P256, P384, P521, SM2, SECP256K1];
const KEY_SPEC_CURVE: Partial<Record<KeySpec, Curve>> = {
  ECC_NIST_P256: P256,
  ECC_NIST_P384: P384,
  ECC_NIST_P521: P521,
  SM2,
};
const EC_PUBLIC_KEY_OID = "2a8648ce3d0201";

/** The algorithm, curve and point of an EC SubjectPublicKeyInfo; undefined if it is not DER SPKI. */
function parseSpki(der: Uint8Array): { algorithm: string; curve: string | undefined; point: Buffer } | undefined {
  const spki = readDer(der, 0);
  if (spki?.tag !== 0x30 || spki.end !== der.length) return undefined;
  const algorithm = readDerChild(der, spki.start, spki, 0x30);
  const oid = algorithm && readDerChild(der, algorithm.start, algorithm, 0x06);
  const bits = algorithm && readDerChild(der, algorithm.end, spki, 0x03);
  if (!oid || !bits || bits.end !== spki.end || der[bits.start] !== 0) return undefined;
  const parameters = readDer(der, oid.end, algorithm.end);
  const curve =
    parameters?.tag === 0x06 ? Buffer.from(der.subarray(parameters.start, parameters.end)).toString("hex") : undefined;
  return {
    algorithm: Buffer.from(der.subarray(oid.start, oid.end)).toString("hex"),
    curve,
    point: Buffer.from(der.subarray(bits.start + 1, bits.end)),
  };
}

/**
 * The peer's point, checked to be on the KMS key's curve. OpenSSL validates the encoding and the
 * point; the curve is read from the DER because Node reports no curve for SM2 keys.
 */
function peerPoint(publicKey: Uint8Array, keyCurve: Curve): Buffer {
  const parsed = parseSpki(publicKey);
  if (!parsed || !opensslAccepts(publicKey)) {
    throw new ValidationException("The public key is not a DER-encoded SubjectPublicKeyInfo.");
  }
  if (parsed.algorithm !== EC_PUBLIC_KEY_OID) {
    throw new ValidationException("The public key is not an elliptic curve key.");
  }
  if (parsed.curve !== keyCurve.oid) {
    const name = KNOWN_CURVES.find((known) => known.oid === parsed.curve)?.name;
    const where = name === undefined ? "an unsupported curve" : `curve ${name}`;
    throw new ValidationException(`The public key is on ${where}; the KMS key is on curve ${keyCurve.name}.`);
  }
  // RFC 5480 §2.2: only the uncompressed (04) and compressed (02, 03) forms; OpenSSL also takes hybrid (06, 07).
  if (![0x02, 0x03, 0x04].includes(parsed.point[0] ?? 0)) {
    throw new ValidationException("The public key's point is neither compressed nor uncompressed.");
  }
  return parsed.point;
}

function opensslAccepts(spki: Uint8Array): boolean {
  try {
    createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    return true;
  } catch {
    return false;
  }
}

export const deriveSharedSecret: Operation<DeriveSharedSecretRequest, DeriveSharedSecretResponse> = async (
  context,
  input,
) => {
  const attested = withRecipient(context, input);
  const algorithm = input.KeyAgreementAlgorithm as string;
  const key = await resolveKey(attested, input.KeyId as string, "kms:DeriveSharedSecret", {
    "kms:KeyAgreementAlgorithm": algorithm,
  });
  requireUsage(key, "KEY_AGREEMENT", "DeriveSharedSecret");
  requireAlgorithm(key, "keyAgreement", algorithm);
  const keyCurve = KEY_SPEC_CURVE[key.keySpec];
  if (keyCurve === undefined) throw new Error(`${key.keySpec} keys do not agree keys`);
  const point = peerPoint(input.PublicKey as Uint8Array, keyCurve);
  stopIfDryRun(input);

  // Node's diffieHellman() refuses SM2 keys read from DER, so every curve goes through ECDH objects.
  const ecdh = createECDH(keyCurve.openssl);
  ecdh.setPrivateKey(ecPrivateScalar(await keyMaterial(context.services, key)));
  let secret: Buffer;
  try {
    secret = ecdh.computeSecret(point);
  } catch {
    throw new ValidationException("The public key is not a valid point on the KMS key's curve.");
  }
  return {
    KeyId: keyArn(key),
    ...(attested.recipient ? { CiphertextForRecipient: sealForRecipient(attested, secret) } : { SharedSecret: secret }),
    KeyAgreementAlgorithm: "ECDH",
    KeyOrigin: key.origin,
  };
};
