import { existsSync } from "node:fs";
import type { Command, Option } from "commander";
import { AvailableRoots } from "../root/available-roots.js";
import { openStoreRoot, type StoreRoot } from "../root/store-root.js";
import { checkIntegrity, type IntegrityReport } from "../store/integrity-check.js";
import { PostgresKeyStore } from "../store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../store/sqlite/sqlite-store.js";
import type { IntegrityScan, KeyStore } from "../store/store.js";
import { storeLocation } from "../store/store-location.js";
import { type RootFlags, rootConfigFrom } from "./root-commands.js";

/** Verifying every index of a large database takes longer than a request may. */
const CHECK_STATEMENT_TIMEOUT_MS = 30 * 60_000;

/**
 * The store named by `--data` / `--store`, opened without creating anything: a check of a
 * directory that holds no store (or no root key) must not make an empty one and call it healthy.
 */
async function openExistingStore(dataDir: string, storeUrl: string | undefined): Promise<KeyStore & IntegrityScan> {
  const location = storeLocation(dataDir, storeUrl);
  if (location.kind === "postgres") {
    return PostgresKeyStore.open(location.url, { maxConnections: 2, statementTimeoutMs: CHECK_STATEMENT_TIMEOUT_MS });
  }
  if (!existsSync(location.file)) throw new Error(`there is no Trent store in ${dataDir} (no trent.db)`);
  return new SqliteKeyStore(location.file);
}

function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

function printReport(report: IntegrityReport): void {
  const { checked } = report;
  const lines = [
    `checked ${plural(checked.keys, "key")} (${plural(checked.keyMaterialVersions, "backing-key version")} unwrapped), ` +
      `${plural(checked.aliases, "alias", "aliases")}, ${plural(checked.grants, "grant")}, ` +
      `${plural(checked.accessKeys, "access key")}, ${plural(checked.clientKeys, "client key")}`,
    report.problems.length === 0 ? "no problems found" : `${plural(report.problems.length, "problem")} found:`,
    ...report.problems.map((problem) => `  ${problem}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** `trent check`: exit 0 when the store is healthy, 1 with the problems listed when it is not, 2 when it cannot be checked. */
export function addCheckCommand(program: Command, storeOptions: readonly Option[]): void {
  const command = program
    .command("check")
    .description(
      "check a store's integrity: the database's own checks, Trent's invariants, and that every wrapped secret opens under the root key",
    );
  for (const option of storeOptions) command.addOption(option);
  command.action(async (options: RootFlags & { data: string; store?: string }) => {
    let store: (KeyStore & IntegrityScan) | undefined;
    let root: StoreRoot | undefined;
    try {
      const config = rootConfigFrom(options);
      // The configured root first: a directory with neither is reported for its missing root key.
      const roots = new AvailableRoots(options.data, config);
      roots.existing(config.kind);
      store = await openExistingStore(options.data, options.store);
      root = await openStoreRoot(store, options.data, config, { create: false, roots });
      const report = await checkIntegrity(store, root);
      printReport(report);
      process.exitCode = report.problems.length === 0 ? 0 : 1;
    } catch (error) {
      process.stderr.write(`trent check: the store could not be checked: ${(error as Error).message}\n`);
      process.exitCode = 2;
    } finally {
      root?.roots.close();
      await store?.close();
    }
  });
}
