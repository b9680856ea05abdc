import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import forge from "node-forge";
import { writeFileAtomically } from "../store/atomic-file.js";

/** A server certificate and key in PEM, for node:https. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** The CA clients should trust, when Trent issued the certificate itself. */
  readonly caFile: string | undefined;
}

const CA_VALIDITY_YEARS = 10;
const SERVER_VALIDITY_DAYS = 397;

/**
 * The certificate the TLS listener serves: the operator's (`--tls-cert`, `--tls-key`), or one
 * issued by Trent's own CA, created at first start in the data directory (`ca.pem` for clients
 * to trust; the CA key never leaves the directory). The server certificate names localhost,
 * 127.0.0.1, ::1 and the given host names, and is issued anew when it lacks one or nears expiry.
 */
export function loadTlsMaterial(
  dataDir: string,
  options: { certFile?: string | undefined; keyFile?: string | undefined; hostNames: readonly string[] },
): TlsMaterial {
  if (options.certFile !== undefined || options.keyFile !== undefined) {
    if (options.certFile === undefined || options.keyFile === undefined) {
      throw new Error("--tls-cert and --tls-key go together");
    }
    return {
      cert: readFileSync(options.certFile, "utf8"),
      key: readFileSync(options.keyFile, "utf8"),
      caFile: undefined,
    };
  }
  const ca = loadOrCreateCa(dataDir);
  const names = [...new Set(["localhost", "127.0.0.1", "::1", ...options.hostNames])];
  const certFile = join(dataDir, "tls-cert.pem");
  const keyFile = join(dataDir, "tls-key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) {
    const current = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
    if (stillGood(current, ca.file, names)) return { ...current, caFile: ca.file };
  }
  const issued = issueServerCertificate(ca, names);
  writeFileAtomically(keyFile, issued.key, { mode: 0o600 });
  writeFileAtomically(certFile, issued.cert, { mode: 0o600 });
  return { ...issued, caFile: ca.file };
}

interface Ca {
  readonly file: string;
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

function loadOrCreateCa(dataDir: string): Ca {
  const file = join(dataDir, "ca.pem");
  const keyFile = join(dataDir, "ca-key.pem");
  if (existsSync(file) && existsSync(keyFile)) {
    return {
      file,
      cert: forge.pki.certificateFromPem(readFileSync(file, "utf8")),
      key: forge.pki.privateKeyFromPem(readFileSync(keyFile, "utf8")) as forge.pki.rsa.PrivateKey,
    };
  }
  if (existsSync(file)) {
    throw new Error(`${file} and ${keyFile} go together: restore the missing one, or remove both for a new CA`);
  }
  // A CA key without its certificate is a first start stopped between the two writes: no client
  // can trust a CA whose certificate was never written, so a new one replaces it.
  rmSync(keyFile, { force: true });
  const pair = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + CA_VALIDITY_YEARS * 365 * 86_400_000);
  const subject = [{ name: "commonName", value: `Trent local CA ${randomBytes(4).toString("hex")}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(pair.privateKey, forge.md.sha256.create());
  writeFileAtomically(keyFile, forge.pki.privateKeyToPem(pair.privateKey), { mode: 0o600, exclusive: true });
  writeFileAtomically(file, forge.pki.certificateToPem(cert), { mode: 0o644, exclusive: true });
  return { file, cert, key: pair.privateKey };
}

function issueServerCertificate(ca: Ca, names: readonly string[]): { cert: string; key: string } {
  const pair = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + SERVER_VALIDITY_DAYS * 86_400_000);
  cert.setSubject([{ name: "commonName", value: names[0] as string }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(pair.privateKey) };
}

/** Node generates the key (fast, native); forge only builds and signs the certificate. */
function rsaKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
  };
}

function serialNumber(): string {
  // Positive, 16 random bytes (RFC 5280 allows up to 20 octets).
  return `01${randomBytes(15).toString("hex")}`;
}

/** Readable, issued by the current CA for its key, naming every host, and not about to expire. */
function stillGood(current: { cert: string; key: string }, caFile: string, names: readonly string[]): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(current.cert);
    if (!cert.checkPrivateKey(createPrivateKey(current.key))) return false;
  } catch {
    return false;
  }
  const ca = new X509Certificate(readFileSync(caFile));
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
  if (new Date(cert.validTo).getTime() - Date.now() < 30 * 86_400_000) return false;
  return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
}
