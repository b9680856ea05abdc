/**
 * Mints Nitro-Enclaves-shaped attestation documents under a throwaway P-384 CA, so tests need no
 * enclave: COSE_Sign1 (ES384) over the NSM payload, with switches that break each part.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, webcrypto } from "node:crypto";
import cbor from "cbor";

// @peculiar/x509's DI container (tsyringe) needs Reflect metadata, so the polyfill loads first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC_P384 = { name: "ECDSA", namedCurve: "P-384" } as const;
const ES384 = { name: "ECDSA", hash: "SHA-384" } as const;
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** A trust anchor tests configure as the verifier's (or Trent's) root. */
export interface TestAttestationCa {
  readonly rootPem: string;
  readonly root: x509.X509Certificate;
  readonly rootKeys: CryptoKeyPair;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P384, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function caExtensions(keys: CryptoKeyPair, issuer?: CryptoKeyPair): Promise<x509.Extension[]> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey));
  return extensions;
}

/** A self-signed P-384 root, valid 2019–2049 unless told otherwise. */
export async function createTestAttestationCa(
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<TestAttestationCa> {
  const rootKeys = await newKeys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString("hex"),
    name: "C=US, O=Trent Tests, OU=Attestation, CN=test.nitro-enclaves",
    notBefore: validity.notBefore ?? new Date("2019-10-28T00:00:00Z"),
    notAfter: validity.notAfter ?? new Date("2049-10-28T00:00:00Z"),
    keys: rootKeys,
    signingAlgorithm: ES384,
    extensions: await caExtensions(rootKeys),
  });
  return { rootPem: root.toString("pem"), root, rootKeys };
}

export type GarbageKind = "random-bytes" | "truncated" | "not-cose" | "deep-nesting" | "huge-length";

export interface MintOptions {
  /** The trusted CA; a fresh one when absent. */
  readonly ca?: TestAttestationCa;
  /** Document time; default now. Certificates are made valid around it. */
  readonly timestamp?: Date;
  /** Default: PCR0..PCR15, each SHA-384("pcr<i>"). */
  readonly pcrs?: ReadonlyMap<number, Buffer>;
  readonly moduleId?: string;
  /** The enclave's RSA private key; a fresh RSA-2048 key when absent. */
  readonly rsaKey?: KeyObject;
  /** Replaces the public_key field: another key (EC, RSA-1024…), raw bytes, or null (CBOR null). */
  readonly publicKey?: KeyObject | Buffer | null;
  readonly userData?: Buffer | null;
  readonly nonce?: Buffer | null;
  /** Chain the document to a fresh root instead of `ca` (whose PEM is still returned). */
  readonly untrustedRoot?: boolean;
  /** Flip a bit of the COSE signature. */
  readonly brokenSignature?: boolean;
  /** Leave the root out of the cabundle, which then starts with an intermediate the root signed. */
  readonly omitRootFromBundle?: boolean;
  /** Make this certificate expire a day before the document's timestamp. */
  readonly expired?: "root" | "intermediate" | "leaf";
  /** The protected header's alg; default -35 (ES384). */
  readonly alg?: number;
  /** Wrap the COSE_Sign1 in CBOR tag 18 (NSM sends it untagged). */
  readonly tagged?: boolean;
  /** Encode the payload map with a definite length (NSM uses an indefinite-length map). */
  readonly definiteLength?: boolean;
  /** Fields to replace or add in the payload, encoded as given (wrong types, unknown fields). */
  readonly payloadOverrides?: Readonly<Record<string, unknown>>;
  readonly omitFields?: readonly string[];
  /** Return bytes that are no valid document at all. */
  readonly garbage?: GarbageKind;
}

export interface MintedAttestation {
  readonly document: Buffer;
  /** PEM of the CA the verifier should trust. */
  readonly rootPem: string;
  /** The RSA private key whose public half the document carries. */
  readonly privateKey: KeyObject;
  readonly pcrs: ReadonlyMap<number, Buffer>;
  readonly timestamp: Date;
}

export function defaultPcrs(): Map<number, Buffer> {
  const pcrs = new Map<number, Buffer>();
  for (let i = 0; i < 16; i++) pcrs.set(i, createHash("sha384").update(`pcr${i}`).digest());
  return pcrs;
}

export async function mintAttestationDocument(options: MintOptions = {}): Promise<MintedAttestation> {
  const timestamp = options.timestamp ?? new Date();
  const t = timestamp.getTime();
  const trusted = options.ca ?? (await createTestAttestationCa());
  const expiredWindow = { notBefore: new Date(t - 30 * DAY), notAfter: new Date(t - DAY) };

  let signingCa = trusted;
  let rootPem = trusted.rootPem;
  if (options.untrustedRoot) signingCa = await createTestAttestationCa();
  if (options.expired === "root") {
    signingCa = await createTestAttestationCa(expiredWindow);
    rootPem = signingCa.rootPem;
  }

  const intermediateKeys = await newKeys();
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString("hex"),
    subject: "C=US, O=Trent Tests, OU=Attestation, CN=zone.test.nitro-enclaves",
    issuer: signingCa.root.subject,
    ...(options.expired === "intermediate"
      ? expiredWindow
      : { notBefore: new Date(t - 30 * DAY), notAfter: new Date(t + 30 * DAY) }),
    publicKey: intermediateKeys.publicKey,
    signingKey: signingCa.rootKeys.privateKey,
    signingAlgorithm: ES384,
    extensions: await caExtensions(intermediateKeys, signingCa.rootKeys),
  });

  const leafKeys = await newKeys();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString("hex"),
    subject: "C=US, O=Trent Tests, OU=Attestation, CN=i-0123456789abcdef0-enc0123456789abcdef.test",
    issuer: intermediate.subject,
    ...(options.expired === "leaf"
      ? expiredWindow
      : { notBefore: new Date(t - HOUR), notAfter: new Date(t + 3 * HOUR) }),
    publicKey: leafKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    signingAlgorithm: ES384,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(intermediateKeys.publicKey),
    ],
  });

  const privateKey = options.rsaKey ?? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const pcrs = options.pcrs ?? defaultPcrs();
  const fields = new Map<string, unknown>([
    ["module_id", options.moduleId ?? "i-0123456789abcdef0-enc0123456789abcdef"],
    ["digest", "SHA384"],
    ["timestamp", t],
    ["pcrs", new Map(pcrs)],
    ["certificate", Buffer.from(leaf.rawData)],
    [
      "cabundle",
      options.omitRootFromBundle
        ? [Buffer.from(intermediate.rawData)]
        : [Buffer.from(signingCa.root.rawData), Buffer.from(intermediate.rawData)],
    ],
    ["public_key", publicKeyField(options.publicKey === undefined ? privateKey : options.publicKey)],
    ["user_data", options.userData ?? null],
    ["nonce", options.nonce ?? null],
  ]);
  for (const [name, value] of Object.entries(options.payloadOverrides ?? {})) fields.set(name, value);
  for (const name of options.omitFields ?? []) fields.delete(name);
  const payload = encodeMap(fields, !options.definiteLength);

  const protectedHeader = cbor.encode(new Map([[1, options.alg ?? -35]]));
  const toBeSigned = cbor.encode(["Signature1", protectedHeader, Buffer.alloc(0), payload]);
  const signature = Buffer.from(await webcrypto.subtle.sign(ES384, leafKeys.privateKey, toBeSigned));
  if (options.brokenSignature) signature[10] = (signature[10] as number) ^ 0x01;

  const sign1 = [protectedHeader, new Map(), payload, signature];
  let document = cbor.encode(options.tagged ? new cbor.Tagged(18, sign1) : sign1);
  if (options.garbage) document = garbage(options.garbage, document);
  return { document, rootPem, privateKey, pcrs, timestamp };
}

function publicKeyField(key: KeyObject | Buffer | null): Buffer | null {
  if (key === null || Buffer.isBuffer(key)) return key;
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return publicKey.export({ format: "der", type: "spki" });
}

function encodeMap(fields: ReadonlyMap<string, unknown>, indefinite: boolean): Buffer {
  if (!indefinite) return cbor.encode(fields);
  const parts: Buffer[] = [Buffer.from([0xbf])];
  for (const [key, value] of fields) parts.push(cbor.encode(key), cbor.encode(value));
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

function garbage(kind: GarbageKind, document: Buffer): Buffer {
  switch (kind) {
    case "random-bytes":
      return randomBytes(512);
    case "truncated":
      return document.subarray(0, Math.floor(document.length / 2));
    case "not-cose":
      return cbor.encode(
        new Map<string, unknown>([
          ["module_id", "x"],
          ["digest", "SHA384"],
        ]),
      );
    case "deep-nesting":
      // 10 000 nested one-element arrays: a recursion bomb for naive decoders.
      return Buffer.concat([Buffer.alloc(10_000, 0x81), Buffer.from([0x00])]);
    case "huge-length":
      // An array claiming 2^64-1 elements, then a byte string claiming 2^32 bytes.
      return Buffer.from([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5a, 0xff, 0xff, 0xff, 0xff]);
  }
}
