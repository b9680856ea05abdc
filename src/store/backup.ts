import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { POSTGRES_MIGRATIONS } from "./postgres/migrations.js";
import { SQLITE_MIGRATIONS } from "./sqlite/migrations.js";

/**
 * `trent backup` / `trent restore`: every table of a store as JSON lines, in a store-neutral
 * form, so a backup of either store restores into either. The file:
 *
 *   {"format":"trent-backup","formatVersion":1,"createdAt":...,"schema":{"store":"sqlite","version":5},"rootCheck":...}
 *   {"table":"meta","columns":["name","value"]}
 *   ["root_check","AQ..."]                              one line per row; bytes as base64
 *   ...                                                  each table in BACKUP_TABLES order
 *   {"end":{"rows":123,"sha256":"..."}}                  the SHA-256 of every line above it
 *
 * Key material and access-key secrets are in it only as the store keeps them: wrapped under the
 * root key, which is not in it.
 */

type ColumnType = "text" | "integer" | "bytes";

export interface BackupColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
}

export interface BackupTable {
  readonly name: string;
  readonly columns: readonly BackupColumn[];
  readonly primaryKey: readonly string[];
}

function table(name: string, primaryKey: readonly string[], columns: Record<string, ColumnType | `${ColumnType}?`>) {
  return {
    name,
    primaryKey,
    columns: Object.entries(columns).map(([column, type]) => ({
      name: column,
      type: type.replace("?", "") as ColumnType,
      nullable: type.endsWith("?"),
    })),
  };
}

/**
 * Every table of both stores' migrations, parents before children (the order rows are restored
 * in). A backup refuses a store with a table or column missing here, so a new migration cannot
 * silently drop data from backups.
 */
export const BACKUP_TABLES: readonly BackupTable[] = [
  table("meta", ["name"], { name: "text", value: "text" }),
  table("principals", ["arn"], { arn: "text", account_id: "text", principal_id: "text" }),
  table("access_keys", ["access_key_id"], {
    access_key_id: "text",
    principal_arn: "text",
    wrapped_secret: "bytes",
    created_at: "integer",
  }),
  table("client_keys", ["key_id"], {
    key_id: "text",
    principal_arn: "text",
    public_key: "bytes",
    created_at: "integer",
  }),
  table("identity_policies", ["principal_arn", "policy_name"], {
    principal_arn: "text",
    policy_name: "text",
    document: "text",
  }),
  // Before keys, whose custom_key_store_id refers to it.
  table("custom_key_stores", ["custom_key_store_id"], {
    custom_key_store_id: "text",
    account_id: "text",
    region: "text",
    name: "text",
    cloud_hsm_cluster_id: "text",
    trust_anchor_certificate: "text",
    wrapped_password: "bytes",
    connection_state: "text",
    connection_error_code: "text?",
    connection_generation: "integer",
    created_at: "integer",
  }),
  table("keys", ["key_id"], {
    key_id: "text",
    account_id: "text",
    region: "text",
    created_at: "integer",
    description: "text",
    key_spec: "text",
    key_usage: "text",
    origin: "text",
    key_state: "text",
    deletion_date: "integer?",
    pending_window_days: "integer?",
    policy: "text",
    current_version: "integer",
    rotation_period_days: "integer?",
    next_rotation_date: "integer?",
    custom_key_store_id: "text?",
    valid_to: "integer?",
    expiration_model: "text?",
    multi_region_key_id: "text?",
    primary_region: "text?",
  }),
  table("key_material", ["key_id", "version"], {
    key_id: "text",
    version: "integer",
    wrapped: "bytes",
    created_at: "integer",
    rotation_type: "text?",
  }),
  table("imported_key_material", ["key_id", "version"], {
    key_id: "text",
    version: "integer",
    fingerprint: "bytes?",
    description: "text?",
    imported: "integer",
    expiration_model: "text?",
    valid_to: "integer?",
    imported_at: "integer",
    rotation_type: "text?",
    rotated_at: "integer?",
  }),
  table("key_usage", ["key_id"], {
    key_id: "text",
    operation: "text",
    used_at: "integer",
    event_id: "text",
    request_id: "text",
  }),
  table("aliases", ["account_id", "region", "alias_name"], {
    account_id: "text",
    region: "text",
    alias_name: "text",
    target_key_id: "text",
    created_at: "integer",
    updated_at: "integer",
  }),
  table("tags", ["key_id", "tag_key"], { key_id: "text", tag_key: "text", tag_value: "text" }),
  table("grants", ["grant_id"], {
    grant_id: "text",
    key_id: "text",
    name: "text?",
    grantee_principal: "text",
    retiring_principal: "text?",
    issuing_account: "text",
    operations: "text",
    constraints: "text?",
    created_at: "integer",
  }),
];

export type StoreKind = "sqlite" | "postgres";

/** A store's own migration count: the SQLite and PostgreSQL schemas are numbered apart. */
export interface SchemaVersion {
  readonly store: StoreKind;
  readonly version: number;
}

const KNOWN_SCHEMA_VERSIONS: Record<StoreKind, number> = {
  sqlite: SQLITE_MIGRATIONS.length,
  postgres: POSTGRES_MIGRATIONS.length,
};

/** A value as the stores read and write it; PostgreSQL hands bigint columns back as strings. */
export type CellValue = string | number | Buffer | null;

/** One read-only snapshot of a whole store: every call sees the same committed state. */
export interface StoreSnapshot {
  readonly schema: SchemaVersion;
  /** The database's tables, besides its migration bookkeeping, each with its columns. */
  tables(): Promise<ReadonlyMap<string, readonly string[]>>;
  /** A table's rows (`table` is one of BACKUP_TABLES) in primary-key order, values in `table.columns` order. */
  rows(table: BackupTable): AsyncIterable<readonly CellValue[]>;
}

/** A store a backup can be taken of while it serves. */
export interface BackupSource {
  /** Runs `read` in one read-only transaction: writers carry on, and `read` sees none of their commits. */
  readSnapshot<T>(read: (snapshot: StoreSnapshot) => Promise<T>): Promise<T>;
}

/** Inserts one row; `table` and `columns` are names from BACKUP_TABLES. */
export type RowInserter = (table: string, columns: readonly string[], row: readonly CellValue[]) => Promise<void>;

/** A store a backup can be restored into. */
export interface RestoreTarget {
  /**
   * In one transaction: throws BackupStoreError if any of `tables` holds a row; otherwise lets
   * `write` insert rows, and commits only if it resolves.
   */
  restoreRows(tables: readonly BackupTable[], write: (insert: RowInserter) => Promise<void>): Promise<void>;
}

/** A backup file that cannot be restored: not a Trent backup, damaged or cut short, or from a newer Trent. */
export class InvalidBackupError extends Error {
  readonly code = "InvalidBackup";
  override readonly name = "InvalidBackupError";
}

/** A store that cannot be backed up, or restored into, as it is. */
export class BackupStoreError extends Error {
  readonly code = "BackupStore";
  override readonly name = "BackupStoreError";
}

const FORMAT = "trent-backup";
const FORMAT_VERSION = 1;

export interface BackupHeader {
  readonly format: typeof FORMAT;
  readonly formatVersion: typeof FORMAT_VERSION;
  readonly createdAt: string;
  readonly schema: SchemaVersion;
  /** The store's root check (see root/root-check.ts): which root key the backup needs. */
  readonly rootCheck: string;
}

export interface BackupSummary {
  readonly schema: SchemaVersion;
  /** Rows per table. */
  readonly rows: Readonly<Record<string, number>>;
}

/**
 * Writes a backup of `source` to `file`, from one snapshot, in full or not at all (mode 0600).
 * `checkRoot` sees the store's root check before anything is written and throws to refuse.
 */
export async function writeBackup(
  source: BackupSource,
  file: string,
  checkRoot: (rootCheck: string) => Promise<void>,
): Promise<BackupSummary> {
  const out = await PrivateFileWriter.create(file);
  try {
    const summary = await source.readSnapshot(async (snapshot) => {
      const newer = newerSchema(snapshot.schema, "the store");
      if (newer !== undefined) throw new BackupStoreError(newer);
      requireCoveredTables(await snapshot.tables());
      const rootCheck = await readRootCheck(snapshot);
      await checkRoot(rootCheck);
      const header: BackupHeader = {
        format: FORMAT,
        formatVersion: FORMAT_VERSION,
        createdAt: new Date().toISOString(),
        schema: snapshot.schema,
        rootCheck,
      };
      await out.writeLine(JSON.stringify(header));
      const rows: Record<string, number> = {};
      for (const backupTable of BACKUP_TABLES) {
        await out.writeLine(
          JSON.stringify({ table: backupTable.name, columns: backupTable.columns.map((column) => column.name) }),
        );
        let count = 0;
        for await (const row of snapshot.rows(backupTable)) {
          await out.writeLine(JSON.stringify(encodeRow(backupTable, row)));
          count++;
        }
        rows[backupTable.name] = count;
      }
      return { schema: snapshot.schema, rows };
    });
    const total = Object.values(summary.rows).reduce((sum, count) => sum + count, 0);
    await out.writeLine(JSON.stringify({ end: { rows: total, sha256: out.digest() } }));
    await out.commit();
    return summary;
  } catch (error) {
    await out.discard();
    throw error;
  }
}

/** The header of a backup file, checked: a Trent backup of a schema this Trent knows. */
export async function readBackupHeader(file: string): Promise<BackupHeader> {
  for await (const line of backupLines(file)) return parseHeader(line);
  throw new InvalidBackupError(`${file} is empty`);
}

/**
 * Restores the backup in `file` into `target`, in one transaction: nothing is written unless
 * every row is valid and the file is whole (its checksum matches). `expected` is the header the
 * caller checked the root key against; the file must still start with it.
 */
export async function restoreBackup(
  file: string,
  expected: BackupHeader,
  target: RestoreTarget,
): Promise<BackupSummary> {
  const rows: Record<string, number> = {};
  await target.restoreRows(BACKUP_TABLES, async (insert) => {
    const hash = createHash("sha256");
    let header: BackupHeader | undefined;
    let current: { table: BackupTable; columns: BackupColumn[] } | undefined;
    let lastTableIndex = -1;
    let rootCheckSeen = false;
    let ended = false;
    for await (const line of backupLines(file)) {
      if (ended) throw new InvalidBackupError(`${file} goes on after its end line`);
      const record = parseJson(line, file);
      if (header === undefined) {
        header = parseHeader(line);
        if (JSON.stringify(header) !== JSON.stringify(expected)) {
          throw new InvalidBackupError(`${file} changed while it was being restored`);
        }
      } else if (Array.isArray(record)) {
        if (current === undefined) throw new InvalidBackupError(`${file} has a row before any table line`);
        const row = decodeRow(current.columns, record, current.table.name);
        if (current.table.name === "meta" && row[0] === "root_check") {
          if (row[1] !== header.rootCheck) throw new InvalidBackupError(`${file}: its root check and header disagree`);
          rootCheckSeen = true;
        }
        await insert(
          current.table.name,
          current.columns.map((column) => column.name),
          row,
        );
        rows[current.table.name] = (rows[current.table.name] ?? 0) + 1;
      } else if (isObject(record) && "table" in record) {
        const index = BACKUP_TABLES.findIndex((known) => known.name === record.table);
        if (index <= lastTableIndex) {
          throw new InvalidBackupError(`${file}: table ${String(record.table)} is unknown, repeated or out of order`);
        }
        lastTableIndex = index;
        const known = BACKUP_TABLES[index] as BackupTable;
        current = { table: known, columns: tableColumns(known, record.columns, file) };
        rows[known.name] = 0;
      } else if (isObject(record) && "end" in record) {
        const end = record.end as { rows?: unknown; sha256?: unknown };
        const total = Object.values(rows).reduce((sum, count) => sum + count, 0);
        if (end?.sha256 !== hash.digest("hex") || end.rows !== total) {
          throw new InvalidBackupError(`${file} is damaged: its checksum or row count does not match its contents`);
        }
        ended = true;
        continue;
      } else {
        throw new InvalidBackupError(`${file} has a line that is neither a table, a row nor the end`);
      }
      hash.update(`${line}\n`);
    }
    if (header === undefined) throw new InvalidBackupError(`${file} is empty`);
    if (!ended) throw new InvalidBackupError(`${file} is cut short: it has no end line`);
    if (!rootCheckSeen) throw new InvalidBackupError(`${file} has no root check in its meta table`);
  });
  return { schema: expected.schema, rows };
}

async function* backupLines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, { encoding: "utf8" });
  try {
    yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  } finally {
    input.destroy();
  }
}

function parseJson(line: string, file: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new InvalidBackupError(`${file} is not a Trent backup: a line is not JSON`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseHeader(line: string): BackupHeader {
  let header: unknown;
  try {
    header = JSON.parse(line);
  } catch {
    header = undefined;
  }
  if (!isObject(header) || header.format !== FORMAT) throw new InvalidBackupError("this is not a Trent backup");
  if (header.formatVersion !== FORMAT_VERSION) {
    throw new InvalidBackupError(
      `the backup is in format version ${String(header.formatVersion)}; this Trent reads version ${FORMAT_VERSION}`,
    );
  }
  const schema = header.schema as Partial<SchemaVersion> | undefined;
  if (
    !isObject(schema) ||
    (schema.store !== "sqlite" && schema.store !== "postgres") ||
    !Number.isSafeInteger(schema.version) ||
    typeof header.rootCheck !== "string" ||
    typeof header.createdAt !== "string"
  ) {
    throw new InvalidBackupError("the backup's header is malformed");
  }
  const newer = newerSchema(schema as SchemaVersion, "the backup");
  if (newer !== undefined) throw new InvalidBackupError(newer);
  return header as unknown as BackupHeader;
}

/** Why a store or backup of this schema is beyond this Trent, or undefined when it is not. */
function newerSchema(schema: SchemaVersion, what: string): string | undefined {
  const known = KNOWN_SCHEMA_VERSIONS[schema.store];
  if (schema.version <= known) return undefined;
  return `${what} is of a newer Trent (${schema.store} schema version ${schema.version}; this Trent knows up to ${known}): use that Trent's version`;
}

function requireCoveredTables(tables: ReadonlyMap<string, readonly string[]>): void {
  for (const [name, columns] of tables) {
    const known = BACKUP_TABLES.find((backupTable) => backupTable.name === name);
    if (known === undefined) throw new BackupStoreError(`backups do not cover table ${name}: add it to BACKUP_TABLES`);
    const declared = known.columns.map((column) => column.name);
    const missing = columns.filter((column) => !declared.includes(column));
    if (missing.length > 0 || columns.length !== declared.length) {
      throw new BackupStoreError(
        `table ${name} has columns [${columns.join(", ")}], backups expect [${declared.join(", ")}]: update BACKUP_TABLES`,
      );
    }
  }
  for (const known of BACKUP_TABLES) {
    if (!tables.has(known.name)) throw new BackupStoreError(`the store has no table ${known.name}`);
  }
}

async function readRootCheck(snapshot: StoreSnapshot): Promise<string> {
  const meta = BACKUP_TABLES[0] as BackupTable;
  let rootCheck: string | undefined;
  for await (const [name, value] of snapshot.rows(meta)) {
    if (name === "root_check" && typeof value === "string") rootCheck = value;
  }
  if (rootCheck === undefined) {
    throw new BackupStoreError("the store has no root check: it was never opened by trent serve");
  }
  return rootCheck;
}

type JsonCell = string | number | null;

function encodeRow(backupTable: BackupTable, row: readonly CellValue[]): JsonCell[] {
  return backupTable.columns.map((column, i) => {
    const value = row[i];
    if (value === null || value === undefined) {
      if (column.nullable) return null;
    } else if (column.type === "bytes" && Buffer.isBuffer(value)) {
      return value.toString("base64");
    } else if (column.type === "text" && typeof value === "string") {
      return value;
    } else if (column.type === "integer" && Number.isSafeInteger(Number(value)) && !Buffer.isBuffer(value)) {
      return Number(value);
    }
    throw new BackupStoreError(`${backupTable.name}.${column.name} holds a value that is not ${column.type}`);
  });
}

function tableColumns(backupTable: BackupTable, names: unknown, file: string): BackupColumn[] {
  const invalid = () =>
    new InvalidBackupError(`${file}: the columns of table ${backupTable.name} do not match this Trent's schema`);
  if (!Array.isArray(names)) throw invalid();
  const columns = names.map((name) => {
    const column = backupTable.columns.find((known) => known.name === name);
    if (column === undefined) throw invalid();
    return column;
  });
  // A backup of an older schema may lack columns added since, which are all nullable.
  const required = backupTable.columns.filter((column) => !column.nullable);
  if (new Set(columns).size !== columns.length || required.some((column) => !columns.includes(column))) throw invalid();
  return columns;
}

function decodeRow(columns: readonly BackupColumn[], values: unknown[], tableName: string): CellValue[] {
  if (values.length !== columns.length) {
    throw new InvalidBackupError(`a row of ${tableName} has ${values.length} values, not ${columns.length}`);
  }
  return columns.map((column, i) => {
    const value = values[i];
    if (value === null && column.nullable) return null;
    if (column.type === "text" && typeof value === "string") return value;
    if (column.type === "integer" && Number.isSafeInteger(value)) return value as number;
    if (column.type === "bytes" && typeof value === "string") {
      const bytes = Buffer.from(value, "base64");
      if (bytes.toString("base64") === value) return bytes;
    }
    throw new InvalidBackupError(`${tableName}.${column.name} has a value that is not ${column.type}`);
  });
}

const FLUSH_BYTES = 1 << 20;

/**
 * A file written in full or not at all, readable only by its owner: written to a temporary file
 * beside it, fsynced, renamed over it, and the directory fsynced so the rename survives a crash.
 */
class PrivateFileWriter {
  private readonly hash = createHash("sha256");
  private pending: string[] = [];
  private pendingBytes = 0;

  private constructor(
    private readonly file: string,
    private readonly temporary: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(file: string): Promise<PrivateFileWriter> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.partial`);
    return new PrivateFileWriter(file, temporary, await open(temporary, "wx", 0o600));
  }

  async writeLine(line: string): Promise<void> {
    this.hash.update(line).update("\n");
    this.pending.push(line, "\n");
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  /** The SHA-256 of every line written so far, in hex. */
  digest(): string {
    return this.hash.copy().digest("hex");
  }

  private async flush(): Promise<void> {
    const text = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(text);
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temporary, this.file);
    await syncDirectory(dirname(this.file));
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.temporary).catch(() => undefined);
  }
}

/** Makes a rename or a new file in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
