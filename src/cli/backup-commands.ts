import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Command, Option } from "commander";
import { RootKeyError } from "../root/key-file-root.js";
import { rootCheckMatches } from "../root/root-check.js";
import { openStoreRoot } from "../root/store-root.js";
import {
  type BackupHeader,
  BackupStoreError,
  type BackupSummary,
  readBackupHeader,
  restoreBackup,
  syncDirectory,
  writeBackup,
} from "../store/backup.js";
import { PostgresKeyStore } from "../store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../store/sqlite/sqlite-store.js";
import { storeLocation } from "../store/store-location.js";
import { type RootFlags, rootConfigFrom } from "./root-commands.js";

// The names Trent gives these files in a data directory (server/trent.ts, root/key-file-root.ts).
const ROOT_KEY_FILE = "root.key";
const SQLITE_FILE = "trent.db";

/**
 * `trent backup` and `trent restore`; `storeOptions` makes a fresh set of main.ts's --data,
 * --store and --root-key options for each.
 */
export function addBackupCommands(program: Command, storeOptions: () => readonly Option[]): void {
  const backup = program
    .command("backup")
    .description(
      "write a consistent copy of the whole store to a file while Trent serves (key material stays wrapped; the root key is not in it)",
    )
    .requiredOption("--out <file>", "the backup file, written in full or not at all, mode 0600");
  for (const option of storeOptions()) backup.addOption(option);
  backup.action(async (opts: RootFlags & { out: string; data: string; store?: string }) => {
    const config = rootConfigFrom(opts);
    const store = await openSourceStore(opts.data, opts.store);
    try {
      const root = await openStoreRoot(store, opts.data, config, { create: false });
      const summary = await writeBackup(store, opts.out, async (rootCheck) => {
        if (!(await rootCheckMatches(root, rootCheck))) {
          throw new RootKeyError(`the root key does not match the data in ${opts.data}`);
        }
      });
      process.stdout.write(`backed up ${summarize(summary)} to ${opts.out}\n`);
    } finally {
      await store.close();
    }
  });

  const restore = program
    .command("restore")
    .description("restore a backup into a new data directory (or empty database) under the same root key")
    .requiredOption("--in <file>", "a file written by trent backup");
  for (const option of storeOptions()) restore.addOption(option);
  restore.action(async (opts: RootFlags & { in: string; data: string; store?: string }) => {
    const header = await readBackupHeader(opts.in);
    // The root the backup's store is under, as its root check names it.
    const backupMeta = { getMeta: async (name: string) => (name === "root_check" ? header.rootCheck : undefined) };
    const root = await openStoreRoot(
      { ...backupMeta, initMeta: async () => header.rootCheck },
      opts.data,
      rootConfigFrom(opts),
      { create: false },
    );
    if (!(await rootCheckMatches(root, header.rootCheck))) {
      throw new RootKeyError(
        `the root key does not match the backup ${opts.in}: restore needs the root key the backup was taken under`,
      );
    }
    requireFreshDataDirectory(opts.data);
    mkdirSync(opts.data, { recursive: true, mode: 0o700 });
    const target = storeLocation(opts.data, opts.store);
    const summary =
      target.kind === "sqlite"
        ? await restoreIntoSqlite(opts.in, header, opts.data)
        : await restoreIntoPostgres(opts.in, header, target.url);
    const serve = [
      `trent serve --data ${opts.data}`,
      ...(target.kind === "sqlite" ? [] : ["--store <that URL>"]),
      ...(opts.rootKey === undefined ? [] : ["and the same --root-key"]),
    ];
    process.stdout.write(`restored ${summarize(summary)} into ${opts.data}; start it with: ${serve.join(" ")}\n`);
  });
}

/** The store of an existing data directory: a backup never creates one. */
async function openSourceStore(dataDir: string, storeUrl: string | undefined) {
  const location = storeLocation(dataDir, storeUrl);
  if (location.kind === "postgres") return PostgresKeyStore.open(location.url);
  if (!existsSync(location.file)) throw new BackupStoreError(`${dataDir} holds no Trent store (no ${SQLITE_FILE})`);
  return new SqliteKeyStore(location.file);
}

/** A restore starts a data directory afresh: it may exist, holding at most the root key the operator put there. */
function requireFreshDataDirectory(dataDir: string): void {
  if (!existsSync(dataDir)) return;
  const found = readdirSync(dataDir).filter((name) => name !== ROOT_KEY_FILE);
  if (found.length > 0) {
    throw new BackupStoreError(
      `${dataDir} is not empty (it holds ${found.slice(0, 3).join(", ")}${found.length > 3 ? ", ..." : ""}): restore only into a new data directory`,
    );
  }
}

/**
 * Restores into a file beside trent.db and renames it into place once complete, so a restore
 * that fails or is killed leaves no store that `trent serve` would take for a fresh one.
 */
async function restoreIntoSqlite(backupFile: string, header: BackupHeader, dataDir: string): Promise<BackupSummary> {
  const file = join(dataDir, SQLITE_FILE);
  const partial = `${file}.restoring`;
  const store = new SqliteKeyStore(partial);
  let summary: BackupSummary;
  try {
    summary = await restoreBackup(backupFile, header, store);
  } catch (error) {
    await store.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${partial}${suffix}`, { force: true });
    throw error;
  }
  // Closing the last connection checkpoints the WAL into the file and removes it.
  await store.close();
  renameSync(partial, file);
  await syncDirectory(dataDir);
  return summary;
}

async function restoreIntoPostgres(backupFile: string, header: BackupHeader, url: string): Promise<BackupSummary> {
  const store = await PostgresKeyStore.open(url);
  try {
    return await restoreBackup(backupFile, header, store);
  } finally {
    await store.close();
  }
}

function summarize(summary: BackupSummary): string {
  const { rows } = summary;
  const total = Object.values(rows).reduce((sum, count) => sum + count, 0);
  return `${rows.keys ?? 0} keys (${rows.key_material ?? 0} key versions), ${rows.aliases ?? 0} aliases, ${rows.grants ?? 0} grants: ${total} rows`;
}
