import type { Caller } from "../domain/principal.js";

/** What an edge knows of a request once it is answered, whatever the protocol. */
export interface AnsweredRequest {
  readonly edge: "aws" | "alibaba";
  /** The service the request was made to, when not KMS (the CloudTrail API is `cloudtrail.amazonaws.com`). */
  readonly eventSource?: string;
  readonly requestId: string;
  /** The operation the request named, or null when it named none Trent knows. */
  readonly operation: string | null;
  /** Null when the request was not authenticated. */
  readonly caller: Pick<Caller, "region" | "principalArn" | "principalId" | "accountId" | "accessKeyId"> | null;
  readonly remoteAddress: string | null;
  readonly userAgent: string | null;
  /** Key ARNs the request touched, when known. */
  readonly resources: readonly string[];
  /** The request's parameters with every secret removed or replaced by a correlation hash. */
  readonly requestParameters: Readonly<Record<string, unknown>> | null;
  /** The response, likewise redacted; null for reads whose answer the record need not repeat. */
  readonly responseElements: Readonly<Record<string, unknown>> | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** Where every answered request is recorded. A request is answered only after its record was accepted. */
export interface AuditSink {
  /** Resolves once the record is written as configured; rejects when it cannot be. */
  record(request: AnsweredRequest): Promise<void>;
  /**
   * A keyed hash of a ciphertext or grant token: equal values give equal hashes, so records
   * can be correlated, but the hash cannot be replayed as the value.
   */
  correlationHash(value: Uint8Array | string): string;
  close(): Promise<void>;
}

/** Keeps nothing: for unit tests that call operations directly. */
export class DiscardingAuditSink implements AuditSink {
  async record(): Promise<void> {}
  correlationHash(): string {
    return "";
  }
  async close(): Promise<void> {}
}
