import type { Caller } from "../domain/principal.js";

/** One record per request, whatever its outcome; shaped after CloudTrail's KMS events. */
export interface AuditEvent {
  readonly eventTime: Date;
  readonly requestId: string;
  readonly eventSource: "kms.amazonaws.com";
  readonly eventName: string;
  readonly awsRegion: string | null;
  readonly sourceIPAddress: string | null;
  readonly userAgent: string | null;
  readonly principalArn: string | null;
  readonly accountId: string | null;
  readonly accessKeyId: string | null;
  /** Key ARNs the request touched, when known. */
  readonly resources: readonly string[];
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

/** What an edge knows of a request once it is answered, whatever the protocol. */
export interface AnsweredRequest {
  readonly requestId: string;
  readonly operation: string | null;
  readonly caller: Pick<Caller, "region" | "principalArn" | "accountId" | "accessKeyId"> | null;
  readonly remoteAddress: string | null;
  readonly userAgent: string | null;
  readonly resources: readonly string[];
  readonly error: { readonly code: string; readonly message: string } | null;
}

export function auditEventOf(request: AnsweredRequest): AuditEvent {
  return {
    eventTime: new Date(),
    requestId: request.requestId,
    eventSource: "kms.amazonaws.com",
    eventName: request.operation ?? "Unknown",
    awsRegion: request.caller?.region ?? null,
    sourceIPAddress: request.remoteAddress,
    userAgent: request.userAgent,
    principalArn: request.caller?.principalArn ?? null,
    accountId: request.caller?.accountId ?? null,
    accessKeyId: request.caller?.accessKeyId ?? null,
    resources: request.resources,
    errorCode: request.error?.code ?? null,
    errorMessage: request.error?.message ?? null,
  };
}

/** Where audit records go. A request is answered only after its record was accepted. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}

/** Keeps nothing: the default until the audit trail is configured. */
export class DiscardingAuditSink implements AuditSink {
  async record(): Promise<void> {}
  async close(): Promise<void> {}
}
