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
