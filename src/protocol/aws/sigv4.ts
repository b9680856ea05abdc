import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { getCanonicalHeaders, SignatureV4Base } from "@smithy/signature-v4";
import {
  IncompleteSignatureException,
  InvalidSignatureException,
  MissingAuthenticationTokenException,
  UnrecognizedClientException,
} from "../../domain/errors.js";

/** AWS accepts a request signed up to 5 minutes before or after its own clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const SERVICE = "kms";
const ALGORITHM = "AWS4-HMAC-SHA256";
const AUTHORIZATION = /^AWS4-HMAC-SHA256 +(.*)$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const INVALID_TOKEN = "The security token included in the request is invalid.";

export interface IncomingSignedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string | string[]>;
  /** Header name (lower case) → every value it was sent with, in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
}

export interface VerifiedCaller {
  readonly accessKeyId: string;
  readonly region: string;
}

/** Finds the secret of an access key, or undefined when the key is unknown. */
export type SecretLookup = (accessKeyId: string) => Promise<string | undefined>;

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: string[];
  readonly signature: string;
}

function single(request: IncomingSignedRequest, name: string): string | undefined {
  const values = request.headers.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw new IncompleteSignatureException(`The request has more than one '${name}' header.`);
  return values[0];
}

function parseAuthorization(header: string): ParsedAuthorization {
  const match = AUTHORIZATION.exec(header);
  if (!match) {
    if (header.startsWith("AWS4-") || header.startsWith("AWS ")) {
      throw new IncompleteSignatureException(`Unsupported signing algorithm; only ${ALGORITHM} is accepted.`);
    }
    throw new IncompleteSignatureException(`Authorization header requires the ${ALGORITHM} scheme.`);
  }
  const params = new Map<string, string>();
  for (const part of (match[1] as string).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ["Credential", "SignedHeaders", "Signature"].filter((p) => !params.get(p));
  if (missing.length > 0) {
    throw new IncompleteSignatureException(
      missing.map((p) => `Authorization header requires '${p}' parameter.`).join(" "),
    );
  }
  const credential = (params.get("Credential") as string).split("/");
  if (credential.length !== 5 || credential[4] !== "aws4_request" || credential.some((c) => c === "")) {
    throw new IncompleteSignatureException(
      "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request.",
    );
  }
  const [accessKeyId, date, region, service] = credential as [string, string, string, string];
  // The region becomes part of every ARN Trent returns, so it must be one an ARN can carry.
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(region)) {
    throw new InvalidSignatureException(`Credential should be scoped to a valid region, not '${region}'.`);
  }
  const signature = params.get("Signature") as string;
  if (!/^[0-9a-f]{64}$/.test(signature)) throw new InvalidSignatureException(signatureMismatch());
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: (params.get("SignedHeaders") as string).split(";"),
    signature,
  };
}

function signatureMismatch(): string {
  return "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
}

function parseAmzDate(value: string | undefined): Date {
  const m = value === undefined ? null : AMZ_DATE.exec(value);
  if (!m)
    throw new IncompleteSignatureException(
      "The request must carry a valid X-Amz-Date header (ISO 8601 basic format, e.g. 20250101T000000Z).",
    );
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
  // Date.UTC rolls 20250230 over into March: a date that does not read back the same never existed.
  if (
    Number.isNaN(date.getTime()) ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    throw new IncompleteSignatureException("X-Amz-Date is not a valid date.");
  }
  return date;
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * The canonical request as @smithy/signature-v4 composes it (path normalisation and escaping,
 * query and header canonicalisation), without its client-side signing around it: a verifier
 * signs no request, and per-request signer objects and re-hashing cost more than the checks.
 */
class CanonicalRequests extends SignatureV4Base {
  constructor() {
    const unused = () => Promise.reject(new Error("not used for verification"));
    super({ credentials: unused, region: unused, service: SERVICE, sha256: Hash.bind(null, "sha256") });
  }

  canonicalRequest(request: HttpRequest, canonicalHeaders: Record<string, string>, payloadHash: string): string {
    return this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
  }
}

const CANONICAL = new CanonicalRequests();

/**
 * SigV4 signing keys depend only on the secret, the day and the region, so they are derived once
 * per access key and day. An entry is used only while the stored secret is still the same.
 */
const MAX_SIGNING_KEYS = 10_000;
const signingKeys = new Map<string, { secret: string; key: Buffer }>();

function signingKey(accessKeyId: string, secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${accessKeyId}/${date}/${region}/${service}`;
  const cached = signingKeys.get(cacheKey);
  if (cached !== undefined && cached.secret === secret) return cached.key;
  let key = Buffer.from(`AWS4${secret}`, "utf8");
  for (const part of [date, region, service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.delete(signingKeys.keys().next().value as string);
  signingKeys.set(cacheKey, { secret, key });
  return key;
}

/**
 * Verifies an AWS Signature Version 4 request for `service` (`kms`, or `cloudtrail` for the
 * audit API). The canonical request is rebuilt from exactly the headers the client signed, with
 * the body hashed from the bytes received, and the signature is compared in constant time.
 */
export async function verifySigV4(
  request: IncomingSignedRequest,
  lookupSecret: SecretLookup,
  now: number,
  service: string = SERVICE,
): Promise<VerifiedCaller> {
  const authorization = single(request, "authorization");
  if (authorization === undefined) {
    if (request.query["X-Amz-Algorithm"] !== undefined) {
      throw new IncompleteSignatureException("Presigned requests are not supported; sign the Authorization header.");
    }
    throw new MissingAuthenticationTokenException("Missing Authentication Token");
  }
  const auth = parseAuthorization(authorization);
  if (single(request, "x-amz-security-token") !== undefined) {
    // Temporary credentials are not issued by Trent yet, so no session token can be valid.
    throw new UnrecognizedClientException(INVALID_TOKEN);
  }
  if (auth.service !== service) {
    throw new InvalidSignatureException(`Credential should be scoped to correct service: '${service}'.`);
  }
  const amzDate = single(request, "x-amz-date");
  const signingDate = parseAmzDate(amzDate);
  if (!auth.signedHeaders.includes("host")) {
    throw new InvalidSignatureException("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (!auth.signedHeaders.includes("x-amz-date")) {
    throw new InvalidSignatureException("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if ((amzDate as string).slice(0, 8) !== auth.date) {
    throw new InvalidSignatureException(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${(amzDate as string).slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  const skew = signingDate.getTime() - now;
  if (skew < -MAX_CLOCK_SKEW_MS) {
    throw new InvalidSignatureException(
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} - 5 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw new InvalidSignatureException(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} + 5 min.)`,
    );
  }

  const secret = await lookupSecret(auth.accessKeyId);
  if (secret === undefined) throw new UnrecognizedClientException(INVALID_TOKEN);

  // The signature covers the body only through its hash: recompute it from the bytes received
  // rather than trusting a client-supplied x-amz-content-sha256 header.
  const bodyHash = createHash("sha256").update(request.body).digest("hex");
  const claimedHash = request.headers.get("x-amz-content-sha256");
  if (claimedHash !== undefined && (claimedHash.length !== 1 || claimedHash[0] !== bodyHash)) {
    throw new InvalidSignatureException(signatureMismatch());
  }
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const values = request.headers.get(name);
    if (values === undefined) throw new InvalidSignatureException(signatureMismatch());
    headers[name] = values.join(",");
  }
  const canonicalRequest = CANONICAL.canonicalRequest(
    new HttpRequest({
      method: request.method,
      protocol: "http:",
      hostname: headers.host ?? "",
      path: request.path,
      query: request.query,
      headers,
    }),
    getCanonicalHeaders({ headers } as HttpRequest, undefined, new Set(auth.signedHeaders)),
    bodyHash,
  );
  const scope = `${auth.date}/${auth.region}/${service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${createHash("sha256").update(canonicalRequest).digest("hex")}`;
  const expected = createHmac("sha256", signingKey(auth.accessKeyId, secret, auth.date, auth.region, service))
    .update(stringToSign)
    .digest();
  if (!timingSafeEqual(expected, Buffer.from(auth.signature, "hex"))) {
    throw new InvalidSignatureException(signatureMismatch());
  }
  return { accessKeyId: auth.accessKeyId, region: auth.region };
}
