import type { Logger } from "pino";
import type { RootOfTrust } from "../root/root-of-trust.js";

/** How long each readiness check may take before /ready reports it timed out. */
export const READY_CHECK_TIMEOUT_MS = 2_000;

export type CheckOutcome = "ok" | "failed" | "timed out";

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckOutcome>>;
}

/**
 * Answers GET /ready: runs every named check (a cheap store read, a root-of-trust round trip),
 * each bounded by a timeout, and reports which failed. The reasons go to the log only, since
 * /ready is unauthenticated and a database error names hosts and users. Checks asked for while
 * one run is under way share that run, so a flood of probes puts one read on the database.
 */
export class Readiness {
  private running: Promise<ReadinessReport> | null = null;

  constructor(
    private readonly checks: Readonly<Record<string, () => Promise<unknown>>>,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  check(): Promise<ReadinessReport> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<ReadinessReport> {
    const outcomes = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]) => [name, await this.outcome(name, check)] as const),
    );
    return {
      ready: outcomes.every(([, outcome]) => outcome === "ok"),
      checks: Object.fromEntries(outcomes),
    };
  }

  private async outcome(name: string, check: () => Promise<unknown>): Promise<CheckOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timed out">((resolve) => {
      timer = setTimeout(() => resolve("timed out"), this.timeoutMs);
    });
    try {
      const outcome = await Promise.race([check().then(() => "ok" as const), timedOut]);
      if (outcome !== "ok") this.logger.warn({ check: name, timeoutMs: this.timeoutMs }, "readiness check timed out");
      return outcome;
    } catch (error) {
      this.logger.warn({ err: error, check: name }, "readiness check failed");
      return "failed";
    } finally {
      clearTimeout(timer);
    }
  }
}

const PROBE_CONTEXT = "trent/ready";

/** Wraps and unwraps a value: the root of trust answers, with the key the data was written under. */
export async function rootOfTrustRoundTrip(root: RootOfTrust): Promise<void> {
  const probe = Buffer.from(PROBE_CONTEXT);
  const unwrapped = await root.unwrap(await root.wrap(probe, PROBE_CONTEXT), PROBE_CONTEXT);
  if (!unwrapped.equals(probe)) throw new Error("the root of trust did not give back what it wrapped");
}
