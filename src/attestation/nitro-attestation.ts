/**
 * Verification of AWS Nitro Enclaves attestation documents, as the Nitro Enclaves documentation and
 * aws-nitro-enclaves-nsm-api's docs/attestation_process.md specify: a COSE_Sign1 (ES384) over a CBOR
 * payload, signed by a certificate that chains through the document's cabundle to a trusted root.
 */
import { createPublicKey, type KeyObject, verify as verifySignature, X509Certificate } from "node:crypto";
import cbor from "cbor";

/** Thrown for every way an attestation document (or a trust-root file) can be unacceptable. */
export class AttestationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AttestationError";
  }
}

/** What a signed, chained, well-formed document says, before its public key is interpreted. */
export interface AttestationDocument {
  readonly moduleId: string;
  readonly timestamp: Date;
  readonly digest: string;
  readonly pcrs: ReadonlyMap<number, Buffer>;
  /** The `public_key` field as sent (NSM leaves its format to the enclave), or null when absent. */
  readonly publicKeyBytes: Buffer | null;
  readonly userData: Buffer | null;
  readonly nonce: Buffer | null;
}

export interface VerifiedAttestation {
  /** The document's public key: RSA unless the verifier was built with `requireRsaKey: false`. */
  readonly publicKey: KeyObject;
  readonly moduleId: string;
  readonly timestamp: Date;
  readonly digest: string;
  readonly pcrs: ReadonlyMap<number, Buffer>;
  readonly userData: Buffer | null;
  readonly nonce: Buffer | null;
}

export interface AttestationVerifierOptions {
  /** Trust anchors: the document's cabundle[0] must be one of them or be signed by one. */
  readonly roots: readonly X509Certificate[];
  /** How old the document's timestamp may be; it may also lie at most 5 minutes in the future. */
  readonly maxAgeMs: number;
  readonly now: () => Date;
  /** Smallest accepted RSA modulus; default 2048, at most 4096. */
  readonly minRsaBits?: number;
  /** Default true. False accepts any SubjectPublicKeyInfo key type in `verify`. */
  readonly requireRsaKey?: boolean;
}

/** AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves), SHA-256 fingerprint 641A0321…79BB5B. */
export const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Parses every certificate of a PEM file; a file without one, or with a broken one, is refused. */
export function loadTrustRoots(pemFileContents: string): X509Certificate[] {
  const blocks = pemFileContents.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new AttestationError("the trust-root file holds no PEM certificate");
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new AttestationError(`certificate ${index + 1} of the trust-root file is not a valid X.509 certificate`);
    }
  });
}

const MAX_DOCUMENT_BYTES = 16 * 1024;
// Real documents nest three levels (COSE array → payload map → pcrs map); anything deeper is hostile.
const MAX_CBOR_DEPTH = 8;
const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
const COSE_SIGN1_TAG = 18;
const COSE_HEADER_ALG = 1;
const COSE_ALG_ES384 = -35;
const ES384_SIGNATURE_BYTES = 96;
const MAX_RSA_BITS = 4096;

const REQUIRED_FIELDS = ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"] as const;
const OPTIONAL_FIELDS = ["public_key", "user_data", "nonce"] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set([...REQUIRED_FIELDS, ...OPTIONAL_FIELDS]);

export class AttestationVerifier {
  private readonly roots: readonly X509Certificate[];
  private readonly maxAgeMs: number;
  private readonly now: () => Date;
  private readonly minRsaBits: number;
  private readonly requireRsaKey: boolean;

  constructor(options: AttestationVerifierOptions) {
    if (options.roots.length === 0) throw new RangeError("an attestation verifier needs at least one trust root");
    if (!Number.isFinite(options.maxAgeMs) || options.maxAgeMs < 0) {
      throw new RangeError("maxAgeMs must be a non-negative number");
    }
    const minRsaBits = options.minRsaBits ?? 2048;
    if (!Number.isInteger(minRsaBits) || minRsaBits < 1024 || minRsaBits > MAX_RSA_BITS) {
      throw new RangeError(`minRsaBits must be an integer from 1024 to ${MAX_RSA_BITS}`);
    }
    this.roots = [...options.roots];
    this.maxAgeMs = options.maxAgeMs;
    this.now = options.now;
    this.minRsaBits = minRsaBits;
    this.requireRsaKey = options.requireRsaKey ?? true;
  }

  /** Verifies the document completely and returns its (RSA, unless configured otherwise) public key. */
  verify(document: Uint8Array): VerifiedAttestation {
    const { publicKeyBytes, ...attested } = this.verifyDocument(document);
    return { ...attested, publicKey: this.publicKeyOf(publicKeyBytes) };
  }

  /**
   * Verifies structure, signature, certificate chain and age, but does not interpret `public_key`
   * (real NSM documents may carry raw key bytes that are no SubjectPublicKeyInfo).
   */
  verifyDocument(document: Uint8Array): AttestationDocument {
    if (document.length === 0) throw new AttestationError("the attestation document is empty");
    if (document.length > MAX_DOCUMENT_BYTES) {
      throw new AttestationError(`the attestation document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    const sign1 = parseCoseSign1(Buffer.from(document.buffer, document.byteOffset, document.byteLength));
    const payload = parsePayload(sign1.payload);

    const leaf = parseCertificate(payload.certificate, "the attestation document's signing certificate");
    const bundle = payload.cabundle.map((der, i) => parseCertificate(der, `the attestation document's cabundle[${i}]`));
    verifyCoseSignature(sign1, leaf);
    this.verifyChain(leaf, bundle, payload.timestamp);
    this.verifyAge(payload.timestamp);

    return {
      moduleId: payload.moduleId,
      timestamp: payload.timestamp,
      digest: payload.digest,
      pcrs: payload.pcrs,
      publicKeyBytes: payload.publicKey,
      userData: payload.userData,
      nonce: payload.nonce,
    };
  }

  private verifyChain(leaf: X509Certificate, bundle: readonly X509Certificate[], at: Date): void {
    const anchor = bundle[0];
    if (anchor === undefined) throw new AttestationError("the attestation document's cabundle is empty");
    const root = this.trustedRootFor(anchor);
    if (root === undefined) {
      throw new AttestationError("the attestation document's certificate chain does not lead to a trusted root");
    }
    if (root !== anchor) requireValidAt(root, at, "the trusted root that issued cabundle[0]");

    bundle.forEach((certificate, i) => {
      const name = `the attestation document's cabundle[${i}]`;
      if (!certificate.ca) throw new AttestationError(`${name} is not a CA certificate`);
      requireValidAt(certificate, at, name);
      const issuer = bundle[i - 1];
      if (issuer !== undefined && !issuedBy(certificate, issuer)) {
        throw new AttestationError(`${name} is not issued by cabundle[${i - 1}]`);
      }
    });

    const last = bundle[bundle.length - 1] as X509Certificate;
    requireValidAt(leaf, at, "the attestation document's signing certificate");
    if (!issuedBy(leaf, last)) {
      throw new AttestationError(
        "the attestation document's signing certificate is not issued by the last certificate of its cabundle",
      );
    }
  }

  /** cabundle[0] is trusted when it is a root itself (AWS sends Root-G1 there) or is signed by one. */
  private trustedRootFor(anchor: X509Certificate): X509Certificate | undefined {
    if (this.roots.some((root) => root.raw.equals(anchor.raw))) return anchor;
    return this.roots.find((root) => root.ca && issuedBy(anchor, root));
  }

  private verifyAge(timestamp: Date): void {
    const now = this.now().getTime();
    const at = timestamp.getTime();
    if (now - at > this.maxAgeMs) {
      throw new AttestationError(
        `the attestation document's timestamp ${timestamp.toISOString()} is older than the accepted ${this.maxAgeMs} ms`,
      );
    }
    if (at - now > MAX_FUTURE_SKEW_MS) {
      throw new AttestationError(
        `the attestation document's timestamp ${timestamp.toISOString()} lies more than 5 minutes in the future`,
      );
    }
  }

  private publicKeyOf(bytes: Buffer | null): KeyObject {
    if (bytes === null) throw new AttestationError("the attestation document has no public key");
    let key: KeyObject;
    try {
      key = createPublicKey({ key: bytes, format: "der", type: "spki" });
    } catch {
      throw new AttestationError("the attestation document's public key is not a DER SubjectPublicKeyInfo");
    }
    if (!this.requireRsaKey) return key;
    if (key.asymmetricKeyType !== "rsa") {
      throw new AttestationError(
        `the attestation document's public key is not an RSA key (it is ${key.asymmetricKeyType ?? "unknown"})`,
      );
    }
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < this.minRsaBits || bits > MAX_RSA_BITS) {
      throw new AttestationError(
        `the attestation document's RSA public key has ${bits} bits; accepted are ${this.minRsaBits} to ${MAX_RSA_BITS}`,
      );
    }
    return key;
  }
}

interface CoseSign1 {
  readonly protectedHeader: Buffer;
  readonly payload: Buffer;
  readonly signature: Buffer;
}

interface AttestationPayload {
  readonly moduleId: string;
  readonly digest: string;
  readonly timestamp: Date;
  readonly pcrs: ReadonlyMap<number, Buffer>;
  readonly certificate: Buffer;
  readonly cabundle: readonly Buffer[];
  readonly publicKey: Buffer | null;
  readonly userData: Buffer | null;
  readonly nonce: Buffer | null;
}

function decodeCbor(bytes: Buffer, what: string): unknown {
  try {
    return cbor.decodeFirstSync(bytes, {
      max_depth: MAX_CBOR_DEPTH,
      preferMap: true,
      preventDuplicateKeys: true,
      required: true,
    }) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message.slice(0, 120) : "undecodable";
    throw new AttestationError(`${what} is not well-formed CBOR (${reason})`);
  }
}

function parseCoseSign1(document: Buffer): CoseSign1 {
  let value = decodeCbor(document, "the attestation document");
  if (value instanceof cbor.Tagged) {
    if (value.tag !== COSE_SIGN1_TAG) {
      throw new AttestationError(`the attestation document carries CBOR tag ${value.tag}, not COSE_Sign1 (18)`);
    }
    value = value.value as unknown;
  }
  if (!Array.isArray(value) || value.length !== 4) {
    throw new AttestationError("the attestation document is not a COSE_Sign1 structure (an array of four elements)");
  }
  const [protectedHeader, unprotectedHeader, payload, signature] = value as unknown[];
  if (!Buffer.isBuffer(protectedHeader)) {
    throw new AttestationError("the attestation document's COSE protected header is not a byte string");
  }
  const header = decodeCbor(protectedHeader, "the attestation document's COSE protected header");
  if (!(header instanceof Map) || header.size !== 1 || header.get(COSE_HEADER_ALG) !== COSE_ALG_ES384) {
    throw new AttestationError(
      "the attestation document's COSE protected header is not {1: -35} (algorithm ES384 expected)",
    );
  }
  if (!(unprotectedHeader instanceof Map)) {
    throw new AttestationError("the attestation document's COSE unprotected header is not a map");
  }
  if (!Buffer.isBuffer(payload) || payload.length === 0) {
    throw new AttestationError("the attestation document's COSE payload is not a non-empty byte string");
  }
  if (!Buffer.isBuffer(signature) || signature.length !== ES384_SIGNATURE_BYTES) {
    throw new AttestationError(
      `the attestation document's COSE signature is not a byte string of ${ES384_SIGNATURE_BYTES} bytes`,
    );
  }
  return { protectedHeader, payload, signature };
}

function parsePayload(bytes: Buffer): AttestationPayload {
  const map = decodeCbor(bytes, "the attestation document's payload");
  if (!(map instanceof Map)) throw new AttestationError("the attestation document's payload is not a CBOR map");
  for (const key of map.keys()) {
    if (typeof key !== "string" || !KNOWN_FIELDS.has(key)) {
      throw new AttestationError(`the attestation document's payload has an unknown field ${describeKey(key)}`);
    }
  }
  for (const field of REQUIRED_FIELDS) {
    if (!map.has(field)) throw new AttestationError(`the attestation document's payload has no ${field}`);
  }
  const field = (name: string): unknown => map.get(name) as unknown;
  const invalid = (name: string, expected: string) =>
    new AttestationError(`the attestation document's ${name} is not ${expected}`);

  const moduleId = field("module_id");
  if (typeof moduleId !== "string" || moduleId.length === 0) throw invalid("module_id", "a non-empty text string");
  const digest = field("digest");
  if (digest !== "SHA384") throw invalid("digest", '"SHA384"');
  const timestamp = field("timestamp");
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    throw invalid("timestamp", "a positive integer of milliseconds");
  }

  const pcrMap = field("pcrs");
  if (!(pcrMap instanceof Map) || pcrMap.size < 1 || pcrMap.size > 32) throw invalid("pcrs", "a map of 1 to 32 PCRs");
  const pcrs = new Map<number, Buffer>();
  for (const [index, value] of pcrMap as Map<unknown, unknown>) {
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 31) {
      throw invalid("pcrs", "keyed by PCR indexes 0 to 31");
    }
    if (!Buffer.isBuffer(value) || ![32, 48, 64].includes(value.length)) {
      throw invalid(`PCR${index}`, "a byte string of 32, 48 or 64 bytes");
    }
    pcrs.set(index, value);
  }

  const certificate = field("certificate");
  if (!isByteString(certificate, 1, 1024)) throw invalid("certificate", "a byte string of 1 to 1024 bytes");
  const cabundle = field("cabundle");
  if (!Array.isArray(cabundle) || cabundle.length === 0) throw invalid("cabundle", "a non-empty array");
  cabundle.forEach((entry: unknown, i) => {
    if (!isByteString(entry, 1, 1024)) throw invalid(`cabundle[${i}]`, "a byte string of 1 to 1024 bytes");
  });

  const optional = (name: (typeof OPTIONAL_FIELDS)[number], min: number, max: number): Buffer | null => {
    const value = field(name);
    if (value === undefined || value === null) return null;
    if (!isByteString(value, min, max)) throw invalid(name, `null or a byte string of ${min} to ${max} bytes`);
    return value;
  };

  return {
    moduleId,
    digest,
    timestamp: new Date(timestamp),
    pcrs,
    certificate,
    cabundle: cabundle as Buffer[],
    publicKey: optional("public_key", 1, 1024),
    userData: optional("user_data", 0, 512),
    nonce: optional("nonce", 0, 512),
  };
}

function isByteString(value: unknown, min: number, max: number): value is Buffer {
  return Buffer.isBuffer(value) && value.length >= min && value.length <= max;
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key.slice(0, 40)) : `of type ${typeof key}`;
}

function parseCertificate(der: Buffer, name: string): X509Certificate {
  try {
    const certificate = new X509Certificate(der);
    // Node parses these lazily and throws OpenSSL errors from the getters; parse them here, once.
    void [certificate.publicKey, certificate.validFrom, certificate.validTo, certificate.ca];
    return certificate;
  } catch {
    throw new AttestationError(`${name} is not a valid X.509 certificate`);
  }
}

/** RFC 9052 Sig_structure ["Signature1", protected, external_aad h'', payload], verified with ES384. */
function verifyCoseSignature(sign1: CoseSign1, leaf: X509Certificate): void {
  const key = leaf.publicKey;
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "secp384r1") {
    throw new AttestationError("the attestation document's signing certificate does not hold an ECDSA P-384 key");
  }
  const toBeSigned = Buffer.concat([
    Buffer.from([0x84]),
    cborTextString("Signature1"),
    cborByteString(sign1.protectedHeader),
    cborByteString(Buffer.alloc(0)),
    cborByteString(sign1.payload),
  ]);
  let valid: boolean;
  try {
    valid = verifySignature("sha384", toBeSigned, { key, dsaEncoding: "ieee-p1363" }, sign1.signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new AttestationError("the attestation document's COSE signature does not verify");
}

function cborHeader(majorType: number, length: number): Buffer {
  const major = majorType << 5;
  if (length < 24) return Buffer.from([major | length]);
  if (length < 0x100) return Buffer.from([major | 24, length]);
  if (length < 0x10000) return Buffer.from([major | 25, length >> 8, length & 0xff]);
  const header = Buffer.alloc(5);
  header[0] = major | 26;
  header.writeUInt32BE(length, 1);
  return header;
}

function cborByteString(bytes: Buffer): Buffer {
  return Buffer.concat([cborHeader(2, bytes.length), bytes]);
}

function cborTextString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  return Buffer.concat([cborHeader(3, bytes.length), bytes]);
}

function issuedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function requireValidAt(certificate: X509Certificate, at: Date, name: string): void {
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  const t = at.getTime();
  if (!(notBefore <= t && t <= notAfter)) {
    throw new AttestationError(
      `${name} is not valid at the document's time ${at.toISOString()} (valid ${certificate.validFrom} to ${certificate.validTo})`,
    );
  }
}
