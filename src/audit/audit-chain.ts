import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";

/**
 * The audit trail is a hash chain of JSON lines: every line carries its sequence number and the
 * SHA-256 of the line before it (in `additionalEventData`, where CloudTrail puts service-specific
 * data), so an edited, deleted or reordered line breaks the chain. Anyone can recompute plain
 * hashes, so every few seconds a seal line adds an HMAC, under a key derived from the root of
 * trust, over the chain's head: everything up to a seal can be checked only by someone holding
 * the root.
 */
export interface ChainHead {
  /** The sequence number of the last line written, 0 before the first. */
  readonly sequence: number;
  /** SHA-256 (hex) of the last line written, or GENESIS_HASH before the first. */
  readonly hash: string;
}

export const GENESIS_HASH = "0".repeat(64);
export const GENESIS: ChainHead = { sequence: 0, hash: GENESIS_HASH };

export const SEAL_EVENT_SOURCE = "trent.audit";
export const SEAL_EVENT_NAME = "SealAuditChain";
const SEAL_MAC_LABEL = "trent-audit-seal/v1";

export interface ChainFields {
  readonly sequence: number;
  readonly previousHash: string;
}

export function lineHash(line: string): string {
  return createHash("sha256").update(line, "utf8").digest("hex");
}

/** Serialises `record` as the next line of the chain after `head`. */
export function chainLine(
  record: Readonly<Record<string, unknown>>,
  head: ChainHead,
): { line: string; head: ChainHead } {
  const sequence = head.sequence + 1;
  const extra = (record.additionalEventData as Record<string, unknown> | undefined) ?? {};
  const line = JSON.stringify({
    ...record,
    additionalEventData: { ...extra, sequence, previousHash: head.hash } satisfies ChainFields,
  });
  return { line, head: { sequence, hash: lineHash(line) } };
}

function sealMac(sealKey: Buffer, sequence: number, previousHash: string, sealedAt: string): string {
  return createHmac("sha256", sealKey)
    .update(`${SEAL_MAC_LABEL}\n${sequence}\n${previousHash}\n${sealedAt}`)
    .digest("base64");
}

/** A seal line: an HMAC over the chain's head, itself the next line of the chain. */
export function sealRecord(sealKey: Buffer, head: ChainHead, now: Date): Record<string, unknown> {
  const sealedAt = now.toISOString();
  const sequence = head.sequence + 1;
  return {
    eventVersion: "1.08",
    eventTime: sealedAt.replace(/\.\d{3}Z$/, "Z"),
    eventSource: SEAL_EVENT_SOURCE,
    eventName: SEAL_EVENT_NAME,
    eventType: "TrentAuditSeal",
    eventID: randomUUID(),
    additionalEventData: { sealedAt, mac: sealMac(sealKey, sequence, head.hash, sealedAt) },
  };
}

export type ProblemKind = "malformed" | "altered" | "missing" | "reordered" | "forged-seal";

export interface ChainProblem {
  readonly kind: ProblemKind;
  /** 1-based line number in its file. */
  readonly line: number;
  readonly file: string;
  readonly message: string;
}

export interface ChainReport {
  readonly records: number;
  readonly seals: number;
  /** Lines after the last seal: chained, but not yet covered by a MAC. */
  readonly unsealed: number;
  readonly problem: ChainProblem | null;
  /** The head after the last line checked, for continuing into the next file. */
  readonly head: ChainHead;
}

/** A verifier's progress without a problem: the head it expects the next line to follow, and the counts so far. */
export interface VerifierState {
  readonly head: ChainHead | null;
  readonly records: number;
  readonly seals: number;
  readonly unsealed: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a chain line by line, across the files it spans. The first line checked may be anywhere
 * in the chain (an older file may have been archived); from there on, every line must follow.
 */
export class ChainVerifier {
  private head: ChainHead | null = null;
  private records = 0;
  private seals = 0;
  private unsealed = 0;
  private problem: ChainProblem | null = null;

  constructor(private readonly sealKey: Buffer) {}

  /** Where the check stands: to go on later from here (`resume`), e.g. after a file already checked. */
  state(): VerifierState {
    return { head: this.head, records: this.records, seals: this.seals, unsealed: this.unsealed };
  }

  /** Goes on from a state `state()` gave, as if the lines before it had just been checked without a problem. */
  resume(state: VerifierState): void {
    this.head = state.head;
    this.records = state.records;
    this.seals = state.seals;
    this.unsealed = state.unsealed;
    this.problem = null;
  }

  /** Checks the next line; false once a problem was found (the first one is kept). */
  push(file: string, lineNumber: number, line: string): boolean {
    if (this.problem !== null) return false;
    this.problem = this.check(line, { file, line: lineNumber });
    return this.problem === null;
  }

  report(): ChainReport {
    return {
      records: this.records,
      seals: this.seals,
      unsealed: this.unsealed,
      problem: this.problem,
      head: this.head ?? GENESIS,
    };
  }

  private check(line: string, at: { file: string; line: number }): ChainProblem | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { ...at, kind: "malformed", message: "the line is not JSON: it was altered or cut short" };
    }
    const chain = isObject(parsed) && isObject(parsed.additionalEventData) ? parsed.additionalEventData : null;
    const sequence = chain?.sequence;
    const previousHash = chain?.previousHash;
    if (!isObject(parsed) || typeof sequence !== "number" || typeof previousHash !== "string") {
      return { ...at, kind: "malformed", message: "the line carries no chain fields: it was altered" };
    }
    const head = this.head;
    if (head !== null && sequence !== head.sequence + 1) {
      return sequence > head.sequence + 1
        ? {
            ...at,
            kind: "missing",
            message: `records ${head.sequence + 1}..${sequence - 1} are missing before record ${sequence}`,
          }
        : {
            ...at,
            kind: "reordered",
            message: `record ${sequence} appears after record ${head.sequence}: records were reordered or repeated`,
          };
    }
    if (head !== null && previousHash !== head.hash) {
      return at.line === 1
        ? { ...at, kind: "altered", message: `record ${sequence - 1}, the last of the previous file, was altered` }
        : {
            ...at,
            line: at.line - 1,
            kind: "altered",
            message: `record ${sequence - 1} was altered: its hash no longer matches the next record's`,
          };
    }
    if (head === null && sequence === 1 && previousHash !== GENESIS_HASH) {
      return { ...at, kind: "altered", message: "the first record of the chain does not start it" };
    }
    if (parsed.eventSource === SEAL_EVENT_SOURCE && parsed.eventName === SEAL_EVENT_NAME) {
      const sealedAt = chain?.sealedAt;
      const mac = chain?.mac;
      const wanted = Buffer.from(
        typeof sealedAt === "string" ? sealMac(this.sealKey, sequence, previousHash, sealedAt) : "",
        "base64",
      );
      const given = Buffer.from(typeof mac === "string" ? mac : "", "base64");
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
        return {
          ...at,
          kind: "forged-seal",
          message: `the seal at record ${sequence} does not verify: the records before it were rewritten, or the root key is not this trail's`,
        };
      }
      this.seals++;
      this.unsealed = 0;
    } else {
      this.records++;
      this.unsealed++;
    }
    this.head = { sequence, hash: lineHash(line) };
    return null;
  }
}
