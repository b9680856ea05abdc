import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  write,
  writev,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { type ChainHead, chainLine, GENESIS, lineHash, sealRecord } from "./audit-chain.js";

const writevAsync = promisify(writev);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/** When a written group of records is forced to disk. */
export type FsyncPolicy = "always" | "interval" | "never";

export interface AuditLogOptions {
  readonly sealKey: Buffer;
  /** "always": a request is answered only after its record is on disk (group-committed). */
  readonly fsync: FsyncPolicy;
  /** A seal is added this often when there are unsealed records. */
  readonly sealIntervalMs: number;
  /** A file larger than this is sealed and renamed aside; the chain continues in a new file. */
  readonly maxFileBytes: number;
  readonly now: () => Date;
}

interface Pending {
  readonly record: Readonly<Record<string, unknown>>;
  resolve(): void;
  reject(error: unknown): void;
}

/** Where a chain's lines go: a file (resumable, rotated) or a stream such as standard output. */
interface LineTarget {
  readonly fd: number;
  /** Pipes and terminals cannot be synced; only files are. */
  readonly syncable: boolean;
  append(buffers: Buffer[], bytes: number): Promise<void>;
  /** Undoes a failed append, so the next group does not follow a partial line. */
  discardFailed(): void;
}

/**
 * One hash chain of audit records, written in groups: records that arrive while a group is
 * being written form the next group, so a request waits for its own record without a disk
 * write per request. A group that cannot be written fails every request in it, and the chain
 * continues from the last line that was written.
 */
export class AuditLog {
  private head: ChainHead;
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;
  private unsealed = 0;
  private closed = false;
  private readonly sealTimer: NodeJS.Timeout;
  private readonly syncTimer: NodeJS.Timeout | undefined;
  private dirty = false;

  private constructor(
    private readonly target: LineTarget,
    head: ChainHead,
    private readonly options: AuditLogOptions,
  ) {
    this.head = head;
    this.sealTimer = setInterval(() => {
      if (this.unsealed > 0) this.enqueueSeal();
    }, options.sealIntervalMs);
    this.sealTimer.unref();
    if (options.fsync === "interval") {
      this.syncTimer = setInterval(() => {
        if (!this.dirty || !this.target.syncable) return;
        this.dirty = false;
        fdatasync(this.target.fd, () => undefined);
      }, 1000);
      this.syncTimer.unref();
    }
  }

  /** Opens (or creates) a chain file, continuing the chain at its last complete line. */
  static openFile(path: string, options: AuditLogOptions): { log: AuditLog; repairedBytes: number } {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const file = new ChainFile(path);
    const { head, repairedBytes } = file.resume();
    return { log: new AuditLog(file, head, options), repairedBytes };
  }

  /** A chain written to an already-open descriptor (standard output); it starts afresh. */
  static toDescriptor(fd: number, options: AuditLogOptions): AuditLog {
    const target: LineTarget = {
      fd,
      syncable: fstatSync(fd).isFile(),
      async append(buffers) {
        for (const buffer of buffers) await writeAsync(fd, buffer);
      },
      discardFailed() {},
    };
    return new AuditLog(target, GENESIS, options);
  }

  /** Resolves once the record is written (and on disk, with fsync "always"). */
  append(record: Readonly<Record<string, unknown>>): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the audit log is closed"));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.schedule();
    });
  }

  /** Seals what is unsealed and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.sealTimer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.unsealed > 0 || this.queue.length > 0) this.enqueueSeal();
    while (this.writing !== null) await this.writing;
    this.closed = true;
    if (this.target instanceof ChainFile) {
      fdatasyncSync(this.target.fd);
      this.target.close();
    }
  }

  private enqueueSeal(): void {
    this.queue.push({ record: SEAL, resolve: () => undefined, reject: () => undefined });
    this.schedule();
  }

  private schedule(): void {
    if (this.writing === null) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      let head = this.head;
      let unsealed = this.unsealed;
      const buffers: Buffer[] = [];
      let bytes = 0;
      for (const pending of group) {
        const record =
          pending.record === SEAL ? sealRecord(this.options.sealKey, head, this.options.now()) : pending.record;
        const next = chainLine(record, head);
        head = next.head;
        unsealed = pending.record === SEAL ? 0 : unsealed + 1;
        const buffer = Buffer.from(`${next.line}\n`, "utf8");
        buffers.push(buffer);
        bytes += buffer.length;
      }
      try {
        await this.target.append(buffers, bytes);
        if (this.options.fsync === "always" && this.target.syncable) await fdatasyncAsync(this.target.fd);
        else this.dirty = true;
      } catch (error) {
        this.target.discardFailed();
        for (const pending of group) pending.reject(error);
        continue;
      }
      this.head = head;
      this.unsealed = unsealed;
      for (const pending of group) pending.resolve();
      // A full file is closed with a seal, so every rotated file ends sealed.
      if (this.target instanceof ChainFile && this.target.size >= this.options.maxFileBytes) {
        if (this.unsealed === 0) this.target.rotate(head.sequence);
        else this.enqueueSeal();
      }
    }
    this.writing = null;
  }
}

/** Marks the place of a seal in the queue; the seal itself is made when its group is written. */
const SEAL: Readonly<Record<string, unknown>> = Object.freeze({});

/** Makes a created or renamed file's directory entry durable. */
function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The current file of a chain, e.g. `<data>/audit/audit.log`; full files are renamed aside. */
class ChainFile implements LineTarget {
  fd: number;
  readonly syncable = true;
  size: number;

  constructor(private readonly path: string) {
    this.fd = openSync(path, "a+", 0o600);
    this.size = fstatSync(this.fd).size;
    if (this.size === 0) syncDirectory(dirname(path));
  }

  /** Finds the last complete line; a line cut short by a crash was never acknowledged and is cut off. */
  resume(): { head: ChainHead; repairedBytes: number } {
    if (this.size === 0) return { head: GENESIS, repairedBytes: 0 };
    const tail = readTail(this.fd, this.size);
    let end = this.size;
    let repairedBytes = 0;
    if (!tail.endsWithNewline) {
      end = tail.lastNewline + 1;
      repairedBytes = this.size - end;
      ftruncateSync(this.fd, end);
      this.size = end;
    }
    if (end === 0) return { head: GENESIS, repairedBytes };
    const last = readLastLine(this.fd, end);
    const parsed = JSON.parse(last) as { additionalEventData?: { sequence?: unknown } };
    const sequence = parsed.additionalEventData?.sequence;
    if (typeof sequence !== "number") throw new Error(`${this.path} does not end with an audit record`);
    return { head: { sequence, hash: lineHash(last) }, repairedBytes };
  }

  async append(buffers: Buffer[], bytes: number): Promise<void> {
    let written = 0;
    let remaining = buffers;
    while (written < bytes) {
      const { bytesWritten: count } = await writevAsync(this.fd, remaining);
      written += count;
      if (written < bytes) remaining = [Buffer.concat(buffers).subarray(written)];
    }
    this.size += bytes;
  }

  discardFailed(): void {
    try {
      ftruncateSync(this.fd, this.size);
    } catch {
      // If even truncating fails, the next resume() cuts the partial line.
    }
  }

  /**
   * Renames a full file aside as `<name>.<last sequence>.log` (so the files sort in chain order,
   * before the current one) and starts the next file; the chain runs on across them.
   */
  rotate(lastSequence: number): void {
    const name = basename(this.path, ".log");
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.path, join(dirname(this.path), `${name}.${String(lastSequence).padStart(12, "0")}.log`));
    this.fd = openSync(this.path, "a+", 0o600);
    this.size = 0;
    syncDirectory(dirname(this.path));
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readTail(fd: number, size: number): { endsWithNewline: boolean; lastNewline: number } {
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] === 0x0a) return { endsWithNewline: true, lastNewline: size - 1 };
  return { endsWithNewline: false, lastNewline: findNewlineBefore(fd, size) };
}

/** The position of the last newline before `end`, or -1. */
function findNewlineBefore(fd: number, end: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  let position = end;
  while (position > 0) {
    const start = Math.max(0, position - chunk.length);
    const length = position - start;
    readSync(fd, chunk, 0, length, start);
    const at = chunk.subarray(0, length).lastIndexOf(0x0a);
    if (at >= 0) return start + at;
    position = start;
  }
  return -1;
}

function readLastLine(fd: number, end: number): string {
  const start = findNewlineBefore(fd, end - 1) + 1;
  const line = Buffer.alloc(end - 1 - start);
  readSync(fd, line, 0, line.length, start);
  return line.toString("utf8");
}
