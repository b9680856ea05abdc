import { createHmac, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { KMSInternalException } from "../domain/errors.js";
import type { AuditLog } from "./audit-log.js";
import type { AnsweredRequest, AuditSink } from "./audit-sink.js";
import { cloudTrailRecord } from "./cloudtrail-record.js";
import type { KeyUsageTracker } from "./key-usage.js";

export interface AuditTrailOptions {
  /** Each is its own chain: a file under the data directory, standard output, or both. */
  readonly logs: readonly AuditLog[];
  /** The key of correlation hashes, derived from the root of trust. */
  readonly correlationKey: Buffer;
  /** When a record cannot be written: true fails the request, false answers it and logs the failure. */
  readonly required: boolean;
  readonly keyUsage: KeyUsageTracker;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** Every answered request, on both edges, becomes one CloudTrail-shaped record in each log. */
export class AuditTrail implements AuditSink {
  constructor(private readonly options: AuditTrailOptions) {}

  async record(request: AnsweredRequest): Promise<void> {
    const eventId = randomUUID();
    const time = this.options.now();
    const record = cloudTrailRecord(request, eventId, time);
    try {
      await Promise.all(this.options.logs.map((log) => log.append(record)));
    } catch (error) {
      this.options.logger.error({ err: error, requestId: request.requestId }, "an audit record could not be written");
      if (this.options.required) {
        throw new KMSInternalException(
          "The request could not be recorded in the audit trail, so its result is withheld. Retry the request.",
        );
      }
    }
    this.options.keyUsage.observe(request, eventId, time);
  }

  correlationHash(value: Uint8Array | string): string {
    return `hmac-sha256:${createHmac("sha256", this.options.correlationKey).update(value).digest("base64")}`;
  }

  async close(): Promise<void> {
    await Promise.all(this.options.logs.map((log) => log.close()));
    await this.options.keyUsage.close();
  }
}
