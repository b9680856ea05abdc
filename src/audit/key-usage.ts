import { ALIBABA_CRYPTOGRAPHIC_OPERATIONS, CRYPTOGRAPHIC_OPERATIONS } from "../domain/cryptographic-operations.js";
import { storeKeyId } from "../domain/key.js";
import type { KeyStore, KeyUsage } from "../store/store.js";
import type { AnsweredRequest } from "./audit-sink.js";

/** What GetKeyLastUsage reads. */
export interface KeyUsageLedger {
  lastUsage(keyId: string): Promise<KeyUsage | undefined>;
  /** When this Trent began recording key usage. */
  trackingSince(): Promise<Date>;
}

const TRACKING_SINCE = "key_usage_tracking_since";

function trackedOperation(request: AnsweredRequest): string | undefined {
  if (request.error !== null || request.operation === null) return undefined;
  if (request.edge === "aws") return CRYPTOGRAPHIC_OPERATIONS.has(request.operation) ? request.operation : undefined;
  return Object.hasOwn(ALIBABA_CRYPTOGRAPHIC_OPERATIONS, request.operation)
    ? ALIBABA_CRYPTOGRAPHIC_OPERATIONS[request.operation]
    : undefined;
}

/**
 * Fed by the audit trail with every recorded request: the last successful cryptographic use of
 * each key is kept in memory and written to the store in batches (a write per request would
 * cost more than the request). Reads on this node see unwritten uses at once; other nodes see
 * them after the next flush.
 */
export class KeyUsageTracker implements KeyUsageLedger {
  private pending = new Map<string, KeyUsage>();
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private since: Promise<Date> | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => Date,
    flushIntervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushIntervalMs);
    this.timer.unref();
  }

  /** Notes a recorded request; only successful cryptographic operations on keys count. */
  observe(request: AnsweredRequest, eventId: string, time: Date): void {
    const operation = trackedOperation(request);
    if (operation === undefined) return;
    for (const arn of request.resources) {
      if (!arn.includes(":key/")) continue;
      // Usage is kept per store row: a multi-Region key's copies are used (and deleted) apart.
      const keyId = storeKeyId({ keyId: arn.slice(arn.indexOf(":key/") + 5), region: arn.split(":")[3] ?? "" });
      if (keyId.length === 0) continue;
      this.pending.set(keyId, { keyId, operation, timestamp: time, eventId, requestId: request.requestId });
    }
  }

  async lastUsage(keyId: string): Promise<KeyUsage | undefined> {
    return this.pending.get(keyId) ?? (await this.store.getKeyUsage(keyId));
  }

  trackingSince(): Promise<Date> {
    this.since ??= this.store
      .initMeta(TRACKING_SINCE, String(this.now().getTime()))
      .then((stored) => new Date(Number(stored)));
    return this.since;
  }

  /** Writes the uses noted since the last flush. A failed write keeps them for the next one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.store.recordKeyUsage([...batch.values()]);
      } catch (error) {
        for (const [keyId, usage] of batch) if (!this.pending.has(keyId)) this.pending.set(keyId, usage);
        throw error;
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
