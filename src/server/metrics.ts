/** One answered request, as the metrics see it. */
export interface AnsweredRequestMetric {
  readonly edge: "aws" | "alibaba";
  /** The operation, or null when the request never named a valid one. */
  readonly operation: string | null;
  /** The error code answered, or null on success. */
  readonly errorCode: string | null;
  readonly status: number;
  readonly seconds: number;
}

/** Counts and times every answered request, whichever edge answered it. */
export interface RequestMetrics {
  answered(request: AnsweredRequestMetric): void;
}

export class NoRequestMetrics implements RequestMetrics {
  answered(): void {}
}
