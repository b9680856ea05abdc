import { createHash, createPrivateKey, type KeyObject, sign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import forge from "node-forge";
import protobuf from "protobufjs";

/**
 * A client of Alibaba Cloud KMS's instance API (dkms-gcs-0.2) written for the tests from the SDKs'
 * documented algorithm, independent of Trent's own edge: messages from api.proto through
 * protobufjs, the string-to-sign and RSA-SHA256 signature as the Go/Java/Python SDKs build them,
 * HTTPS with a CA file, and a ClientKey file (PKCS#12) read with node-forge.
 */
export interface DkmsReply {
  readonly status: number;
  /** The decoded `<Api>Response`, or the `Error` message for a 4xx/5xx. */
  readonly message: Record<string, unknown>;
}

export interface Tampering {
  /** Replaces the `date` header. */
  readonly date?: string;
  /** Replaces the body after signing (so the signature and hash no longer match it). */
  readonly bodyAfterSigning?: Uint8Array;
  /** Replaces the content-sha256 header (signed as given). */
  readonly contentSha256?: string;
  /** Replaces the Authorization header. */
  readonly authorization?: string;
  /** Sends these bytes as the body instead of the encoded request (signed correctly). */
  readonly rawBody?: Uint8Array;
  /** Replaces the access key id. */
  readonly accessKeyId?: string;
}

const API_VERSION = "dkms-gcs-0.2";
const CONTENT_TYPE = "application/x-protobuf";

function findProto(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "src", "protocol", "alibaba", "api.proto");
    if (existsSync(file)) return file;
  }
  throw new Error("src/protocol/alibaba/api.proto not found above this file");
}

/** The SDK's string to sign: method, body hash, content type, date, sorted x-kms-* headers, then "/". */
export function stringToSign(method: string, headers: Record<string, string>): string {
  const kmsHeaders = Object.keys(headers)
    .filter((name) => name.startsWith("x-kms-"))
    .sort()
    .map((name) => `${name}:${(headers[name] as string).trim()}\n`)
    .join("");
  return `${method}\n${headers["content-sha256"] ?? ""}\n${headers["content-type"] ?? ""}\n${headers.date ?? ""}\n${kmsHeaders}/`;
}

export function loadClientKey(clientKeyFile: string, password: string): { keyId: string; privateKey: KeyObject } {
  const clientKey = JSON.parse(readFileSync(clientKeyFile, "utf8")) as { KeyId: string; PrivateKeyData: string };
  const der = forge.util.decode64(clientKey.PrivateKeyData);
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), password);
  const bags = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag as string })[
    forge.pki.oids.pkcs8ShroudedKeyBag as string
  ];
  const key = bags?.[0]?.key;
  if (key === undefined) throw new Error("no private key in the ClientKey's PKCS#12");
  return { keyId: clientKey.KeyId, privateKey: createPrivateKey(forge.pki.privateKeyToPem(key)) };
}

export class DkmsClient {
  private readonly root: protobuf.Root;
  private readonly key: { keyId: string; privateKey: KeyObject };

  constructor(
    private readonly endpoint: string,
    private readonly ca: string,
    clientKeyFile: string,
    password: string,
  ) {
    this.root = new protobuf.Root().loadSync(findProto(), { keepCase: true });
    this.key = loadClientKey(clientKeyFile, password);
  }

  encode(apiName: string, fields: Record<string, unknown>): Uint8Array {
    const type = this.root.lookupType(`${apiName}Request`);
    return type.encode(type.fromObject(fields)).finish();
  }

  async call(apiName: string, fields: Record<string, unknown>, tampering: Tampering = {}): Promise<DkmsReply> {
    const body = tampering.rawBody ?? this.encode(apiName, fields);
    const headers: Record<string, string> = {
      accept: CONTENT_TYPE,
      host: new URL(this.endpoint).host,
      date: tampering.date ?? new Date().toUTCString(),
      "user-agent": "trent-test-dkms-client",
      "x-kms-apiversion": API_VERSION,
      "x-kms-apiname": apiName,
      "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
      "x-kms-acccesskeyid": tampering.accessKeyId ?? this.key.keyId,
      "content-type": CONTENT_TYPE,
      "content-sha256": tampering.contentSha256 ?? createHash("sha256").update(body).digest("hex").toUpperCase(),
    };
    const signature = sign("sha256", Buffer.from(stringToSign("POST", headers), "utf8"), this.key.privateKey);
    headers.authorization = tampering.authorization ?? `Bearer ${signature.toString("base64")}`;
    const sent = tampering.bodyAfterSigning ?? body;
    headers["content-length"] = String(sent.length);
    const { status, bytes } = await this.post(headers, sent);
    const type = this.root.lookupType(status >= 400 ? "Error" : `${apiName}Response`);
    return { status, message: type.toObject(type.decode(bytes), { bytes: Buffer as never, defaults: false }) };
  }

  private post(headers: Record<string, string>, body: Uint8Array): Promise<{ status: number; bytes: Buffer }> {
    const url = new URL(this.endpoint);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method: "POST", path: "/", headers, ca: this.ca, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
