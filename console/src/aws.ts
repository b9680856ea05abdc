import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { KMSClient } from "@aws-sdk/client-kms";
import { Sha256 } from "@smithy/core/checksum";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { expiryReason, loadSession, type Session, touchSession } from "./session";

/** Thrown before any request when the session has ended; the app signs out on it. */
export class SessionExpired extends Error {}

export interface Clients {
  readonly kms: KMSClient;
  readonly cloudTrail: CloudTrailClient;
  readonly session: Session;
}

/**
 * Credentials for the SDK, read from the session at each request: a request after the session
 * expired fails before it is signed, and each request counts as activity. The SDK keeps
 * credentials without an expiration for the client's lifetime and asks its provider again only
 * for ones about to expire, so these say they expire at once: it asks before every request.
 */
function credentialsProvider() {
  return async () => {
    const now = Date.now();
    const session = loadSession();
    const reason = session === null ? "You are signed out." : expiryReason(session, now);
    if (session === null || reason !== null) throw new SessionExpired(reason ?? "You are signed out.");
    touchSession(now);
    return { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, expiration: new Date(now) };
  };
}

/** The SDK's clients, signing in the browser and sending to the origin that served the console. */
export function clientsFor(session: Session): Clients {
  const common = {
    region: session.region,
    endpoint: window.location.origin,
    credentials: credentialsProvider(),
    maxAttempts: 2,
  };
  return { kms: new KMSClient(common), cloudTrail: new CloudTrailClient(common), session };
}

/** An AWS error as the console shows it: its code and AWS's own message. */
export interface ShownError {
  readonly code: string;
  readonly message: string;
}

export function shownError(error: unknown): ShownError {
  if (error instanceof SessionExpired) return { code: "SessionExpired", message: error.message };
  if (typeof error === "object" && error !== null) {
    const e = error as { name?: unknown; message?: unknown; Code?: unknown; __type?: unknown };
    const code = typeof e.name === "string" && e.name !== "Error" ? e.name : String(e.Code ?? e.__type ?? "Error");
    return { code, message: typeof e.message === "string" ? e.message : String(error) };
  }
  return { code: "Error", message: String(error) };
}

export interface ChainStatus {
  readonly Chain: string;
  readonly Files: number;
  readonly Records: number;
  readonly Seals: number;
  readonly Unsealed: number;
  readonly Problem?: { readonly Kind: string; readonly File: string; readonly Line: number; readonly Message: string };
}

export interface VerifyAuditTrailOutput {
  readonly Ok: boolean;
  readonly Chains: readonly ChainStatus[];
  readonly CheckedAt: number;
}

/** Trent's VerifyAuditTrail, which no SDK knows: signed here as the SDK would sign it (service `cloudtrail`). */
export async function verifyAuditTrail(session: Session): Promise<VerifyAuditTrailOutput> {
  const credentials = await credentialsProvider()();
  const origin = new URL(window.location.origin);
  const body = "{}";
  const request = new HttpRequest({
    method: "POST",
    protocol: origin.protocol,
    hostname: origin.hostname,
    ...(origin.port === "" ? {} : { port: Number(origin.port) }),
    path: "/",
    headers: {
      host: origin.host,
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "TrentAuditService.VerifyAuditTrail",
    },
    body,
  });
  const signer = new SignatureV4({ credentials, region: session.region, service: "cloudtrail", sha256: Sha256 });
  const signed = await signer.sign(request);
  const headers = { ...signed.headers };
  delete headers.host;
  const response = await fetch(`${origin.origin}/`, { method: "POST", headers, body });
  const payload = (await response.json()) as VerifyAuditTrailOutput & { __type?: string; message?: string };
  if (!response.ok) {
    throw Object.assign(new Error(payload.message ?? response.statusText), { name: payload.__type ?? "Error" });
  }
  return payload;
}
