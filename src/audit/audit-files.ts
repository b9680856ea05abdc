import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type ChainProblem, ChainVerifier, SEAL_EVENT_SOURCE } from "./audit-chain.js";

/** `audit.log`, `audit.000000001234.log`, `audit-worker-2.log`: the chain a file belongs to, and its place in it. */
const CHAIN_FILE = /^(.+?)(?:\.(\d{12}))?\.log$/;

/** A record read back from a chain file, with where it sits in its chain. */
export interface StoredRecord {
  readonly chain: string;
  readonly sequence: number;
  readonly eventTime: string;
  readonly record: Readonly<Record<string, unknown>>;
  /** The line exactly as written. */
  readonly line: string;
}

/** Where a newest-first read stopped: the last record returned, so the next read continues after it. */
export interface RecordCursor {
  readonly eventTime: string;
  readonly chain: string;
  readonly sequence: number;
}

export interface ChainStatus {
  readonly chain: string;
  readonly files: number;
  readonly records: number;
  readonly seals: number;
  readonly unsealed: number;
  readonly problem: ChainProblem | null;
}

/**
 * The audit chain files of a directory, read back: every worker's chain (each in its own files,
 * rotated ones included), records newest first, and each chain checked against the seal key.
 */
export class AuditFiles {
  constructor(
    readonly dir: string,
    private readonly sealKey: Buffer,
  ) {}

  /** Each chain's files in chain order: the rotated ones by the sequence they end at, then the current one. */
  chains(): Map<string, string[]> {
    const chains = new Map<string, { file: string; order: number }[]>();
    if (!existsSync(this.dir)) return new Map();
    for (const name of readdirSync(this.dir).sort()) {
      const match = CHAIN_FILE.exec(name);
      if (!match) continue;
      const files = chains.get(match[1] as string) ?? [];
      files.push({
        file: join(this.dir, name),
        order: match[2] === undefined ? Number.POSITIVE_INFINITY : Number(match[2]),
      });
      chains.set(match[1] as string, files);
    }
    return new Map(
      [...chains].map(([chain, files]) => [chain, files.sort((a, b) => a.order - b.order).map((entry) => entry.file)]),
    );
  }

  /**
   * Every request record (seals left out) of every chain, newest first across chains, starting
   * after `after`; a file is read only once the records before it are used up.
   */
  *newestFirst(after?: RecordCursor): Generator<StoredRecord> {
    const streams = [...this.chains()].map(([chain, files]) => ({
      chain,
      records: chainNewestFirst(chain, files),
      head: undefined as StoredRecord | undefined,
    }));
    for (const stream of streams) stream.head = nextAfter(stream.records, after);
    for (;;) {
      let newest: (typeof streams)[number] | undefined;
      for (const stream of streams) {
        if (stream.head === undefined) continue;
        if (newest === undefined || isNewer(stream.head, newest.head as StoredRecord)) newest = stream;
      }
      if (newest === undefined) return;
      yield newest.head as StoredRecord;
      newest.head = nextAfter(newest.records, after);
    }
  }

  /** Checks every chain from its first line on; a chain with a problem reports the first one. */
  async verify(): Promise<ChainStatus[]> {
    const statuses: ChainStatus[] = [];
    for (const [chain, files] of this.chains()) {
      const verifier = new ChainVerifier(this.sealKey);
      for (const file of files) {
        let lineNumber = 0;
        const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
        let ok = true;
        for await (const line of lines) {
          lineNumber++;
          // The line being written now may not have ended yet; it is checked on the next look.
          if (line === "") continue;
          if (!verifier.push(file, lineNumber, line)) {
            ok = false;
            lines.close();
            break;
          }
        }
        if (!ok) break;
      }
      const report = verifier.report();
      statuses.push({
        chain,
        files: files.length,
        records: report.records,
        seals: report.seals,
        unsealed: report.unsealed,
        problem: report.problem,
      });
    }
    return statuses;
  }
}

function isNewer(a: StoredRecord, b: StoredRecord): boolean {
  if (a.eventTime !== b.eventTime) return a.eventTime > b.eventTime;
  if (a.chain !== b.chain) return a.chain < b.chain;
  return a.sequence > b.sequence;
}

function nextAfter(records: Iterator<StoredRecord>, after: RecordCursor | undefined): StoredRecord | undefined {
  for (;;) {
    const next = records.next();
    if (next.done) return undefined;
    const record = next.value;
    if (after === undefined) return record;
    const cursor: StoredRecord = { ...after, record: {}, line: "" };
    if (record.chain === after.chain ? record.sequence < after.sequence : isNewer(cursor, record)) return record;
  }
}

/** One chain's request records, last line first, file by file from the current one back. */
function* chainNewestFirst(chain: string, files: readonly string[]): Generator<StoredRecord> {
  for (let f = files.length - 1; f >= 0; f--) {
    let text: string;
    try {
      text = readFileSync(files[f] as string, "utf8");
    } catch {
      // Rotated aside or archived between the listing and the read.
      continue;
    }
    const lines = text.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i] as string;
      if (line === "") continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // A line cut short by a crash, or altered: verification reports it; a lookup skips it.
        continue;
      }
      if (typeof record !== "object" || record === null || record.eventSource === SEAL_EVENT_SOURCE) continue;
      const chainFields = record.additionalEventData as { sequence?: unknown } | undefined;
      const sequence = typeof chainFields?.sequence === "number" ? chainFields.sequence : 0;
      const eventTime = typeof record.eventTime === "string" ? record.eventTime : "";
      yield { chain, sequence, eventTime, record, line };
    }
  }
}
