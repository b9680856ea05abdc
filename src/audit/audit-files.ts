import { createReadStream, existsSync, readdirSync } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { type ChainProblem, ChainVerifier, SEAL_EVENT_SOURCE, type VerifierState } from "./audit-chain.js";

/** `audit.log`, `audit.000000001234.log`, `audit-worker-2.log`: the chain a file belongs to, and its place in it. */
const CHAIN_FILE = /^(.+?)(?:\.(\d{12}))?\.log$/;

/** Each chain's files in chain order: the rotated ones by the sequence they end at, then the current one. */
export function chainsIn(dir: string): Map<string, string[]> {
  const chains = new Map<string, { file: string; order: number }[]>();
  for (const name of readdirSync(dir).sort()) {
    const match = CHAIN_FILE.exec(name);
    if (!match) continue;
    const files = chains.get(match[1] as string) ?? [];
    files.push({ file: join(dir, name), order: match[2] === undefined ? Number.POSITIVE_INFINITY : Number(match[2]) });
    chains.set(match[1] as string, files);
  }
  return new Map(
    [...chains].map(([chain, files]) => [chain, files.sort((a, b) => a.order - b.order).map((entry) => entry.file)]),
  );
}

/** A record read back from a chain file, with where it sits in its chain. */
export interface StoredRecord {
  readonly chain: string;
  readonly sequence: number;
  readonly eventTime: string;
  readonly record: Readonly<Record<string, unknown>>;
  /** The line exactly as written. */
  readonly line: string;
  /** The file's name in the audit directory, and the line's first byte in it. */
  readonly file: string;
  readonly offset: number;
}

/** Where a newest-first read stopped: the last record returned, so the next read continues after it. */
export interface RecordCursor {
  readonly eventTime: string;
  readonly chain: string;
  readonly sequence: number;
  /**
   * Per chain, where its next record is: [file name, byte offset, sequence] of the record a
   * newest-first read would give next, or null once the chain is used up. A hint to go on from
   * there without reading the newer records again; a hint that does not fit the files (rotated
   * away, archived) is ignored for the cursor above.
   */
  readonly positions?: Readonly<Record<string, ChainPosition | null>>;
}

export type ChainPosition = readonly [file: string, offset: number, sequence: number];

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

  /** Rotated files verified in this process, by path: they are not read again while unchanged. */
  private readonly verified = new Map<string, VerifiedFile>();

  /** Each chain's files in chain order; none while the directory does not exist. */
  chains(): Map<string, string[]> {
    return existsSync(this.dir) ? chainsIn(this.dir) : new Map();
  }

  /**
   * Every request record (seals left out) of every chain, newest first across chains, starting
   * after `after`. Files are read from their end in chunks, so memory stays bounded whatever their
   * size, and with the cursor's positions a read goes on where the last one stopped.
   */
  async newestFirst(after?: RecordCursor): Promise<NewestFirst> {
    const streams: ChainStream[] = [];
    for (const [chain, files] of this.chains()) {
      const positions = after?.positions;
      const position = positions !== undefined && Object.hasOwn(positions, chain) ? positions[chain] : undefined;
      const resumed = position === undefined || position === null ? undefined : await locate(files, position);
      const records = position === null ? noRecords() : chainNewestFirst(chain, files, resumed);
      const stream: ChainStream = { chain, records, head: undefined };
      stream.head = await nextAfter(records, after);
      streams.push(stream);
    }
    return new NewestFirst(streams, after);
  }

  /**
   * Checks every chain from its first line on; a chain with a problem reports the first one.
   * A rotated file that verified, ends sealed and is unchanged since (same size, mtime and ctime)
   * is not read again: the verifier goes on from the state its check ended in. Anything else is
   * read: the current files, and a rotated file that changed, which then reports what changed.
   */
  async verify(): Promise<ChainStatus[]> {
    const statuses: ChainStatus[] = [];
    const listed = new Set<string>();
    for (const [chain, files] of this.chains()) {
      const verifier = new ChainVerifier(this.sealKey);
      for (const file of files) {
        listed.add(file);
        const rotated = CHAIN_FILE.exec(basename(file))?.[2] !== undefined;
        const before = verifier.state();
        const stamp = rotated ? await stampOf(file) : undefined;
        const cached = this.verified.get(file);
        if (
          stamp !== undefined &&
          cached !== undefined &&
          sameStamp(cached.stamp, stamp) &&
          sameState(cached.from, before)
        ) {
          verifier.resume(cached.to);
          continue;
        }
        this.verified.delete(file);
        if (!(await verifyFile(verifier, file))) break;
        const after = verifier.state();
        // Only a sealed file that did not change while it was read: its lines are then final.
        if (stamp !== undefined && after.unsealed === 0 && sameStamp(stamp, await stampOf(file))) {
          this.verified.set(file, { stamp, from: before, to: after });
        }
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
    for (const file of this.verified.keys()) if (!listed.has(file)) this.verified.delete(file);
    return statuses;
  }
}

/** What a rotated file looked like when it verified, and the verifier's state before and after it. */
interface VerifiedFile {
  readonly stamp: FileStamp;
  readonly from: VerifierState;
  readonly to: VerifierState;
}

interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
  /** Changed by any write and by resetting the mtime (utimes), and settable by no one. */
  readonly ctimeMs: number;
}

async function stampOf(file: string): Promise<FileStamp | undefined> {
  try {
    const { size, mtimeMs, ctimeMs } = await stat(file);
    return { size, mtimeMs, ctimeMs };
  } catch {
    return undefined;
  }
}

function sameStamp(a: FileStamp, b: FileStamp | undefined): boolean {
  return b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function sameState(a: VerifierState, b: VerifierState): boolean {
  return (
    a.records === b.records &&
    a.seals === b.seals &&
    a.unsealed === b.unsealed &&
    a.head?.sequence === b.head?.sequence &&
    a.head?.hash === b.head?.hash
  );
}

/** Feeds a file's lines to the verifier; false at the first problem. */
async function verifyFile(verifier: ChainVerifier, file: string): Promise<boolean> {
  let lineNumber = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    lineNumber++;
    // The line being written now may not have ended yet; it is checked on the next look.
    if (line === "") continue;
    if (!verifier.push(file, lineNumber, line)) {
      lines.close();
      return false;
    }
  }
  return true;
}

function isNewer(a: RecordCursor, b: RecordCursor): boolean {
  if (a.eventTime !== b.eventTime) return a.eventTime > b.eventTime;
  if (a.chain !== b.chain) return a.chain < b.chain;
  return a.sequence > b.sequence;
}

interface ChainStream {
  readonly chain: string;
  readonly records: AsyncIterator<StoredRecord>;
  head: StoredRecord | undefined;
}

/** A newest-first read in progress over several chains: each chain's next record, the newest of them taken first. */
export class NewestFirst {
  constructor(
    private readonly streams: ChainStream[],
    private readonly after: RecordCursor | undefined,
  ) {}

  /** The record `next` would return, without taking it. */
  peek(): StoredRecord | undefined {
    return this.newest()?.head;
  }

  async next(): Promise<StoredRecord | undefined> {
    const stream = this.newest();
    if (stream === undefined) return undefined;
    const record = stream.head;
    stream.head = await nextAfter(stream.records, this.after);
    return record;
  }

  /** Closes the files still open; a read that stops early must call it. */
  async close(): Promise<void> {
    await Promise.all(this.streams.map((stream) => stream.records.return?.(undefined)));
  }

  /** Where each chain stands now, for a cursor that goes on from here. */
  positions(): Record<string, ChainPosition | null> {
    const positions: Record<string, ChainPosition | null> = {};
    for (const { chain, head } of this.streams) {
      positions[chain] = head === undefined ? null : [head.file, head.offset, head.sequence];
    }
    return positions;
  }

  private newest(): ChainStream | undefined {
    let newest: ChainStream | undefined;
    for (const stream of this.streams) {
      if (stream.head === undefined) continue;
      if (newest === undefined || isNewer(stream.head, newest.head as StoredRecord)) newest = stream;
    }
    return newest;
  }
}

async function nextAfter(
  records: AsyncIterator<StoredRecord>,
  after: RecordCursor | undefined,
): Promise<StoredRecord | undefined> {
  for (;;) {
    const next = await records.next();
    if (next.done) return undefined;
    const record = next.value;
    if (after === undefined) return record;
    if (record.chain === after.chain ? record.sequence < after.sequence : isNewer(after, record)) return record;
  }
}

async function* noRecords(): AsyncGenerator<StoredRecord> {}

/** Bytes read at a time from the end of a chain file. */
const CHUNK_BYTES = 256 * 1024;

/** Where in a chain's files a position points, if a record with its sequence starts there. */
async function locate(
  files: readonly string[],
  [name, offset, sequence]: ChainPosition,
): Promise<{ fileIndex: number; end: number } | undefined> {
  if (!Number.isSafeInteger(offset) || offset < 0) return undefined;
  // The named file, or, when the current file was rotated since, the rotated file that holds that sequence.
  const named = files.findIndex((file) => basename(file) === name);
  const rotated = files.findIndex((file) => {
    const order = CHAIN_FILE.exec(basename(file))?.[2];
    return order !== undefined && Number(order) >= sequence;
  });
  for (const fileIndex of new Set([named, rotated])) {
    if (fileIndex < 0) continue;
    const line = await lineAt(files[fileIndex] as string, offset);
    if (line !== undefined && sequenceOf(parseLine(line)) === sequence) {
      return { fileIndex, end: offset + Buffer.byteLength(line) };
    }
  }
  return undefined;
}

/** The line that starts at `offset`, or undefined (no such file, or no whole line there). */
async function lineAt(file: string, offset: number): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch {
    return undefined;
  }
  try {
    if (offset > 0) {
      const before = Buffer.alloc(1);
      await handle.read(before, 0, 1, offset - 1);
      if (before[0] !== 0x0a) return undefined;
    }
    const parts: Buffer[] = [];
    for (let position = offset; ; ) {
      const chunk = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return undefined;
      const newline = chunk.subarray(0, bytesRead).indexOf(0x0a);
      if (newline >= 0) {
        parts.push(chunk.subarray(0, newline));
        return Buffer.concat(parts).toString("utf8");
      }
      parts.push(chunk.subarray(0, bytesRead));
      position += bytesRead;
      if (position - offset > CHUNK_BYTES * 16) return undefined;
    }
  } finally {
    await handle.close();
  }
}

/** A file's lines that end before `end` (all of them without it), last first, each with its first byte's offset. */
async function* linesBackward(file: string, end?: number): AsyncGenerator<{ line: string; offset: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch {
    // Rotated aside or archived between the listing and the read.
    return;
  }
  try {
    let position = Math.min(end ?? Number.POSITIVE_INFINITY, (await handle.stat()).size);
    // The start of a line whose beginning lies in a chunk not read yet.
    let partial = Buffer.alloc(0);
    while (position > 0) {
      const size = Math.min(CHUNK_BYTES, position);
      position -= size;
      const chunk = Buffer.alloc(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(chunk, filled, size - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const buffer = partial.length === 0 ? chunk : Buffer.concat([chunk, partial]);
      let lineEnd = buffer.length;
      for (let newline = buffer.lastIndexOf(0x0a, lineEnd - 1); newline >= 0; ) {
        if (newline + 1 < lineEnd) {
          yield { line: buffer.toString("utf8", newline + 1, lineEnd), offset: position + newline + 1 };
        }
        lineEnd = newline;
        newline = lineEnd > 0 ? buffer.lastIndexOf(0x0a, lineEnd - 1) : -1;
      }
      partial = buffer.subarray(0, lineEnd);
    }
    if (partial.length > 0) yield { line: partial.toString("utf8"), offset: 0 };
  } finally {
    await handle.close();
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const record = JSON.parse(line) as unknown;
    return typeof record === "object" && record !== null && !Array.isArray(record)
      ? (record as Record<string, unknown>)
      : undefined;
  } catch {
    // A line cut short by a crash, or altered: verification reports it; a lookup skips it.
    return undefined;
  }
}

function sequenceOf(record: Record<string, unknown> | undefined): number | undefined {
  const chainFields = record?.additionalEventData as { sequence?: unknown } | undefined;
  return typeof chainFields?.sequence === "number" ? chainFields.sequence : undefined;
}

/** One chain's request records, last line first, file by file from the current one back (or from `from`). */
async function* chainNewestFirst(
  chain: string,
  files: readonly string[],
  from?: { fileIndex: number; end: number },
): AsyncGenerator<StoredRecord> {
  for (let f = from?.fileIndex ?? files.length - 1; f >= 0; f--) {
    const file = files[f] as string;
    for await (const { line, offset } of linesBackward(file, f === from?.fileIndex ? from.end : undefined)) {
      const record = parseLine(line);
      if (record === undefined || record.eventSource === SEAL_EVENT_SOURCE) continue;
      const eventTime = typeof record.eventTime === "string" ? record.eventTime : "";
      yield { chain, sequence: sequenceOf(record) ?? 0, eventTime, record, line, file: basename(file), offset };
    }
  }
}
