import { createReadStream, existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import type { Command, Option } from "commander";
import { ChainVerifier } from "../audit/audit-chain.js";
import { chainsIn } from "../audit/audit-files.js";
import { AUDIT_SEAL_PURPOSE } from "../audit/audit-keys.js";
import { storedOrDerivedPurposeKey } from "../root/purpose-keys.js";
import { openStoreRoot } from "../root/store-root.js";
import { PostgresKeyStore } from "../store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../store/sqlite/sqlite-store.js";
import type { KeyStore } from "../store/store.js";
import { storeLocation } from "../store/store-location.js";
import { type RootFlags, rootConfigFrom } from "./root-commands.js";

async function verifyFiles(files: readonly string[], sealKey: Buffer): Promise<boolean> {
  const verifier = new ChainVerifier(sealKey);
  for (const file of files) {
    let lineNumber = 0;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lineNumber++;
      if (!verifier.push(file, lineNumber, line)) {
        lines.close();
        break;
      }
    }
  }
  const report = verifier.report();
  const name = files.length === 1 ? (files[0] as string) : `${files[0]} .. ${basename(files.at(-1) as string)}`;
  if (report.problem !== null) {
    const { file, line, kind, message } = report.problem;
    process.stdout.write(`${name}: FAILED (${kind}) at ${file} line ${line}: ${message}\n`);
    return false;
  }
  const tail = report.unsealed === 0 ? "all sealed" : `${report.unsealed} after the last seal, not yet sealed`;
  process.stdout.write(`${name}: OK: ${report.records} records, ${report.seals} seals, ${tail}\n`);
  return true;
}

/**
 * The key the chains were sealed with: as the store keeps it (it outlives a change of root), or,
 * with no store at hand (no --store and no trent.db in --data), as the root derives it, which
 * is the same key for a store that never changed root.
 */
async function auditSealKey(flags: RootFlags & { data: string; store?: string }): Promise<Buffer> {
  const location = storeLocation(flags.data, flags.store);
  let store: KeyStore | undefined;
  if (location.kind === "postgres") store = await PostgresKeyStore.open(location.url, { maxConnections: 1 });
  else if (existsSync(location.file)) store = new SqliteKeyStore(location.file);
  try {
    const root = await openStoreRoot(store, flags.data, rootConfigFrom(flags), { create: false });
    try {
      return await storedOrDerivedPurposeKey(store, root, AUDIT_SEAL_PURPOSE);
    } finally {
      root.roots.close();
    }
  } finally {
    await store?.close();
  }
}

/** `trent audit verify`: checks audit chains against the root of trust that sealed them. */
export function addAuditCommands(program: Command, rootOptions: readonly Option[]): void {
  const audit = program.command("audit").description("inspect the audit trail");
  const verify = audit
    .command("verify")
    .description(
      "check audit chain files (in chain order) for altered, missing or reordered records and forged seals; " +
        "with no files, every chain under <data>/audit",
    )
    .argument("[files...]", "the files of one chain, oldest first");
  for (const option of rootOptions) verify.addOption(option);
  verify.action(async (files: string[], flags: RootFlags & { data: string; store?: string }) => {
    const sealKey = await auditSealKey(flags);
    const chains =
      files.length > 0
        ? [files]
        : [...chainsIn(join(flags.data, "audit")).values()].filter((chain) => chain.length > 0);
    if (chains.length === 0) throw new Error(`there are no audit files under ${join(flags.data, "audit")}`);
    for (const file of chains.flat()) {
      if (!statSync(file).isFile()) throw new Error(`${file} is not a file`);
    }
    let ok = true;
    for (const chain of chains) ok = (await verifyFiles(chain, sealKey)) && ok;
    process.exitCode = ok ? 0 : 1;
  });
}
