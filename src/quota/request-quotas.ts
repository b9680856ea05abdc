import { performance } from "node:perf_hooks";
import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { ThrottlingException } from "../domain/errors.js";
import type { KmsKey } from "../domain/key.js";
import type { Caller } from "../domain/principal.js";
import { keyUseQuotaClass, operationQuotaClass, QUOTA_BURSTS, type QuotaClass } from "./quota-classes.js";
import type { QuotaSettings } from "./quota-settings.js";

/** Request-rate quotas, checked by every edge before it runs an operation. */
export interface RequestQuotas {
  /** Throws ThrottlingException when the caller's account is over its rate for the operation's class. */
  admit(caller: Caller, operation: string): void;
  /**
   * The second check, for the cryptographic operations whose class is the type of the key they
   * use (or the pair spec they ask for): called once per key a request resolves, before it is used.
   */
  admitKeyUse(caller: Caller, action: string, key: KmsKey, dataKeyPairSpec: DataKeyPairSpec | undefined): void;
}

/** No quotas at all: for unit tests that call operations directly, and `--quotas off`. */
export class UnlimitedQuotas implements RequestQuotas {
  admit(): void {}
  admitKeyUse(): void {}
}

/** AWS's wording, which SDKs and people search for. */
export const THROTTLING_MESSAGE =
  "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/** A throttle is an expected answer, never logged with a stack: capturing one would triple its cost. */
function throttled(): ThrottlingException {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ThrottlingException(THROTTLING_MESSAGE);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

interface Bucket {
  tokens: number;
  /** Clock reading (ms) when `tokens` was last brought up to date. */
  updatedAt: number;
  readonly capacity: number;
  readonly tokensPerMs: number;
}

export interface TokenBucketOptions {
  /** Worker processes on this node sharing the rates: each enforces 1/processes of every rate. */
  readonly processes?: number;
  /** A monotonic clock in milliseconds (tests inject their own). */
  readonly clock?: () => number;
  /** Buckets kept at most; past it the oldest is dropped, forgetting what it had spent. */
  readonly maxBuckets?: number;
}

/** How often buckets that have refilled completely are dropped; a full bucket is the same as a new one. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * One token bucket per account, region and class, holding at most one second of its rate (at
 * least one request; more for the classes in QUOTA_BURSTS), refilled continuously. A request takes a token or is refused at once with
 * ThrottlingException, as AWS KMS answers; nothing waits.
 */
export class TokenBucketQuotas implements RequestQuotas {
  private readonly buckets = new Map<string, Bucket>();
  private readonly share: number;
  private readonly clock: () => number;
  private readonly maxBuckets: number;
  private nextSweep: number;

  constructor(
    private readonly settings: QuotaSettings,
    options: TokenBucketOptions = {},
  ) {
    const processes = options.processes ?? 1;
    if (!Number.isInteger(processes) || processes < 1) throw new RangeError("processes must be a positive integer");
    this.share = 1 / processes;
    this.clock = options.clock ?? (() => performance.now());
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.nextSweep = this.clock() + SWEEP_INTERVAL_MS;
  }

  admit(caller: Caller, operation: string): void {
    const quotaClass = operationQuotaClass(operation);
    if (quotaClass !== undefined) this.take(caller, quotaClass);
  }

  admitKeyUse(caller: Caller, action: string, key: KmsKey, dataKeyPairSpec: DataKeyPairSpec | undefined): void {
    const quotaClass = keyUseQuotaClass(action, key.keySpec, dataKeyPairSpec);
    if (quotaClass !== undefined) this.take(caller, quotaClass);
  }

  /** The rate this process enforces for an account's class, in requests per second. */
  rateOf(accountId: string, quotaClass: QuotaClass): number {
    const rate = this.settings.accounts.get(accountId)?.[quotaClass] ?? this.settings.rates[quotaClass];
    return rate * this.share;
  }

  /** Buckets held now (for tests of the memory bound). */
  get size(): number {
    return this.buckets.size;
  }

  private take(caller: Caller, quotaClass: QuotaClass): void {
    const now = this.clock();
    if (now >= this.nextSweep) this.sweep(now);
    const id = `${caller.accountId}\n${caller.region}\n${quotaClass}`;
    let bucket = this.buckets.get(id);
    if (bucket === undefined) {
      const rate = this.rateOf(caller.accountId, quotaClass);
      const capacity = Math.max(1, rate, (QUOTA_BURSTS[quotaClass] ?? 0) * this.share);
      bucket = { tokens: capacity, updatedAt: now, capacity, tokensPerMs: rate / 1000 };
      // SigV4 lets a caller name any region: the map must not grow with what callers make up.
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as string);
      this.buckets.set(id, bucket);
    } else {
      bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (now - bucket.updatedAt) * bucket.tokensPerMs);
      bucket.updatedAt = now;
    }
    if (bucket.tokens < 1) throw throttled();
    bucket.tokens -= 1;
  }

  private sweep(now: number): void {
    this.nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [id, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * bucket.tokensPerMs >= bucket.capacity) this.buckets.delete(id);
    }
  }
}

/** The quotas `trent serve` runs with: none for `--quotas off`, else token buckets at the given rates. */
export function requestQuotasFor(settings: QuotaSettings | null, processes: number): RequestQuotas {
  return settings === null ? new UnlimitedQuotas() : new TokenBucketQuotas(settings, { processes });
}
