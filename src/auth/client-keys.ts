import { createPublicKey, generateKeyPair, type KeyObject, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import forge from "node-forge";
import type { DataDirectory } from "../server/trent.js";
import { writeFileAtomically } from "../store/atomic-file.js";
import type { KeyStore, Principal } from "../store/store.js";
import type { CallerIdentity } from "./access-keys.js";

const generateRsaKeyPair = promisify(generateKeyPair);

/** A principal's identity as the Alibaba edge learns it from a client key id, with the key to verify against. */
export interface ClientKeyIdentity {
  readonly publicKey: KeyObject;
  readonly identity: CallerIdentity;
}

export interface IssuedClientKey {
  readonly keyId: string;
  /** The ClientKey file's content, as the dkms-gcs SDKs load it: {"KeyId", "PrivateKeyData"}. */
  readonly clientKeyJson: string;
  /** The PKCS#12 password, which the SDKs take as a plain string. */
  readonly password: string;
}

const CERTIFICATE_YEARS = 10;
const MAX_CACHED_KEYS = 10_000;

/**
 * Client keys for Alibaba's instance API (dkms-gcs). The caller keeps the RSA private key in a
 * password-protected PKCS#12; Trent stores only the public key and verifies signatures with it.
 */
export class ClientKeys {
  /** Parsed public keys by key id, each with the DER it came from: the store is still read per request. */
  private readonly parsed = new Map<string, { der: Buffer; publicKey: KeyObject }>();

  constructor(private readonly store: KeyStore) {}

  async issue(principal: Principal): Promise<IssuedClientKey> {
    const keyId = `KAAP.${randomUUID()}`;
    const { publicKey, privateKey } = await generateRsaKeyPair("rsa", { modulusLength: 2048 });
    const password = randomBytes(24).toString("base64url");
    const pkcs12 = clientKeyPkcs12(keyId, publicKey, privateKey, password);
    await this.store.createClientKey({
      keyId,
      principalArn: principal.arn,
      publicKey: publicKey.export({ type: "spki", format: "der" }),
      createdAt: new Date(),
    });
    const clientKeyJson = JSON.stringify({ KeyId: keyId, PrivateKeyData: pkcs12.toString("base64") });
    return { keyId, clientKeyJson, password };
  }

  /** The public key and identity behind a client key id, or undefined when the key or its principal is unknown. */
  async lookup(keyId: string): Promise<ClientKeyIdentity | undefined> {
    const record = await this.store.getClientKey(keyId);
    if (!record) return undefined;
    const principal = await this.store.getPrincipal(record.principalArn);
    if (!principal) return undefined;
    return {
      publicKey: this.publicKey(keyId, record.publicKey),
      identity: {
        principalArn: principal.arn,
        principalId: principal.principalId,
        accountId: principal.accountId,
        accessKeyId: keyId,
      },
    };
  }

  private publicKey(keyId: string, der: Buffer): KeyObject {
    const known = this.parsed.get(keyId);
    if (known?.der.equals(der)) return known.publicKey;
    const publicKey = createPublicKey({ key: der, format: "der", type: "spki" });
    if (this.parsed.size >= MAX_CACHED_KEYS) this.parsed.delete(this.parsed.keys().next().value as string);
    this.parsed.set(keyId, { der: Buffer.from(der), publicKey });
    return publicKey;
  }
}

/**
 * The PKCS#12 in OpenSSL's legacy layout, which every SDK loads: the certificate bag first (Go's
 * SDK takes block 0 as the certificate and block 1 as the key), then the key shrouded with
 * pbeWithSHAAnd3-KeyTripleDES-CBC, and an HMAC-SHA1 MAC (golang.org/x/crypto/pkcs12 knows
 * nothing newer). One key entry, so Java's first alias is it.
 */
function clientKeyPkcs12(keyId: string, publicKey: KeyObject, privateKey: KeyObject, password: string): Buffer {
  const forgePrivateKey = forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }) as string);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }) as string);
  // A positive serial: the first byte's high bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  certificate.serialNumber = serial.toString("hex");
  const now = new Date();
  certificate.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  certificate.validity.notAfter = new Date(now);
  certificate.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + CERTIFICATE_YEARS);
  const name = [
    { name: "commonName", value: keyId },
    { name: "organizationName", value: "Trent" },
  ];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
  ]);
  certificate.sign(forgePrivateKey, forge.md.sha256.create());
  // forge writes the certificate's SafeContents before the key's, as OpenSSL does; the friendly
  // name becomes the entry's alias in Java.
  const pfx = forge.pkcs12.toPkcs12Asn1(forgePrivateKey, certificate, password, {
    algorithm: "3des",
    friendlyName: keyId,
  });
  return Buffer.from(forge.asn1.toDer(pfx).getBytes(), "binary");
}

/**
 * Issues the admin's client key on first start and writes it beside the AWS credentials file;
 * again whenever the ClientKey file is missing (the private key exists nowhere else).
 */
export async function ensureAdminClientKey(data: DataDirectory, dataDir: string): Promise<void> {
  const keyFile = join(dataDir, "alibaba-client-key.json");
  if (existsSync(keyFile)) return;
  const admin = await data.accessKeys.ensurePrincipal(data.accountId, "user", "admin");
  const issued = await new ClientKeys(data.store).issue(admin);
  // The ClientKey file last: its presence means both files are complete.
  writePrivateFile(join(dataDir, "alibaba-client-key.password"), issued.password);
  writePrivateFile(keyFile, issued.clientKeyJson);
}

/** Writes a file only its owner may read (mode 0600, also when it existed before). */
export function writePrivateFile(file: string, content: string): void {
  writeFileAtomically(file, content, { mode: 0o600 });
}
