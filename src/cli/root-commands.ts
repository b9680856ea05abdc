import { existsSync, readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  AvailableRoots,
  describeRootKind,
  ROOT_KINDS,
  type RootConfig,
  type RootKind,
} from "../root/available-roots.js";
import { DEFAULT_PKCS11_ROOT_KEY_LABEL, type Pkcs11RootConfig } from "../root/pkcs11-root.js";
import { STORED_PURPOSES } from "../root/purpose-keys.js";
import { migrateRoot } from "../root/root-migration.js";
import { PostgresKeyStore } from "../store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../store/sqlite/sqlite-store.js";
import type { KeyStore } from "../store/store.js";
import { storeLocation } from "../store/store-location.js";

/** What the root-of-trust options parse to, as commander names them. */
export interface RootFlags {
  readonly root?: string;
  readonly rootKey?: string;
  readonly pkcs11Module?: string;
  readonly pkcs11TokenLabel?: string;
  readonly pkcs11Slot?: number;
  readonly pkcs11PinFile?: string;
  readonly pkcs11RootKeyLabel?: string;
}

function parseSlot(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a slot id (a non-negative integer)");
  return Number(value);
}

/**
 * Adds the options that say where the root of trust is (besides --root-key, which main.ts gives
 * every command that opens it). The PIN comes from a file or TRENT_PKCS11_PIN, never from the
 * command line, where every user of the machine could read it.
 */
export function addRootOptions(command: Command): void {
  const options = [
    new Option("--root <kind>", "the root of trust: file (<data>/root.key) or pkcs11 (a key inside an HSM)")
      .env("TRENT_ROOT")
      .choices(ROOT_KINDS)
      .default("file"),
    new Option("--pkcs11-module <path>", "the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so").env(
      "TRENT_PKCS11_MODULE",
    ),
    new Option("--pkcs11-token-label <label>", "the token holding the root key, by label").env(
      "TRENT_PKCS11_TOKEN_LABEL",
    ),
    new Option("--pkcs11-slot <n>", "the token holding the root key, by slot id (instead of its label)")
      .env("TRENT_PKCS11_SLOT")
      .argParser(parseSlot),
    new Option("--pkcs11-pin-file <file>", "a file holding the token's user PIN (or set TRENT_PKCS11_PIN)").env(
      "TRENT_PKCS11_PIN_FILE",
    ),
    new Option("--pkcs11-root-key-label <label>", "the label of the root key in the token")
      .env("TRENT_PKCS11_ROOT_KEY_LABEL")
      .default(DEFAULT_PKCS11_ROOT_KEY_LABEL),
  ];
  // One module per process: custom key stores take theirs from the same --pkcs11-module, if a command has it already.
  for (const option of options) {
    if (!command.options.some((existing) => existing.long === option.long)) command.addOption(option);
  }
}

/**
 * The root configuration the options name. The PKCS#11 root is configured when --root pkcs11 or a
 * token (--pkcs11-token-label or --pkcs11-slot) is given: --pkcs11-module alone may be there for
 * custom key stores only.
 */
export function rootConfigFrom(flags: RootFlags): RootConfig {
  const kind = (flags.root ?? "file") as RootKind;
  const tokenNamed = flags.pkcs11TokenLabel !== undefined || flags.pkcs11Slot !== undefined;
  const pkcs11 = kind === "pkcs11" || tokenNamed ? pkcs11ConfigFrom(flags) : undefined;
  return { kind, rootKey: flags.rootKey, pkcs11 };
}

function pkcs11ConfigFrom(flags: RootFlags): Pkcs11RootConfig {
  const { pkcs11Module: modulePath, pkcs11TokenLabel: tokenLabel, pkcs11Slot: slot } = flags;
  if (modulePath === undefined) {
    throw new InvalidArgumentError("the PKCS#11 root needs --pkcs11-module (or TRENT_PKCS11_MODULE)");
  }
  if ((tokenLabel === undefined) === (slot === undefined)) {
    throw new InvalidArgumentError("give exactly one of --pkcs11-token-label or --pkcs11-slot");
  }
  let pin: string | undefined;
  if (flags.pkcs11PinFile !== undefined) {
    if (!existsSync(flags.pkcs11PinFile)) {
      throw new InvalidArgumentError(`the PIN file ${flags.pkcs11PinFile} does not exist`);
    }
    pin = readFileSync(flags.pkcs11PinFile, "utf8").replace(/\r?\n$/, "");
  } else {
    pin = process.env.TRENT_PKCS11_PIN;
  }
  if (pin === undefined || pin === "") {
    throw new InvalidArgumentError(
      "the PKCS#11 token's PIN is missing: give --pkcs11-pin-file or set TRENT_PKCS11_PIN",
    );
  }
  return {
    modulePath,
    ...(tokenLabel === undefined ? { slot: slot as number } : { tokenLabel }),
    pin,
    keyLabel: flags.pkcs11RootKeyLabel ?? DEFAULT_PKCS11_ROOT_KEY_LABEL,
  };
}

/** An existing store: a migration never creates one. */
async function openExistingStore(dataDir: string, storeUrl: string | undefined): Promise<KeyStore> {
  const location = storeLocation(dataDir, storeUrl);
  if (location.kind === "postgres") return PostgresKeyStore.open(location.url, { statementTimeoutMs: 60_000 });
  if (!existsSync(location.file)) throw new Error(`there is no Trent store in ${dataDir} (no trent.db)`);
  return new SqliteKeyStore(location.file);
}

function parseNonNegative(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a non-negative integer");
  return Number(value);
}

/** `trent root migrate`: moves a store to another root of trust while Trent serves. */
export function addRootCommands(program: Command, storeOptions: () => readonly Option[]): void {
  const root = program.command("root").description("manage the root of trust");
  const migrate = root
    .command("migrate")
    .description(
      "re-wrap everything the store keeps wrapped under its root of trust under another root, while Trent serves; " +
        "resumable: run it again after an interruption",
    )
    .addOption(new Option("--to <kind>", "the root to move to").choices(ROOT_KINDS).makeOptionMandatory())
    .addOption(
      new Option("--pause-ms <ms>", "pause after each value re-wrapped, to spare a busy HSM or database")
        .default(0)
        .argParser(parseNonNegative),
    );
  for (const option of storeOptions()) migrate.addOption(option);
  migrate.action(async (flags: RootFlags & { to: RootKind; data: string; store?: string; pauseMs: number }) => {
    const roots = new AvailableRoots(flags.data, rootConfigFrom(flags));
    const store = await openExistingStore(flags.data, flags.store);
    try {
      const result = await migrateRoot(store, roots, flags.to, {
        purposes: STORED_PURPOSES,
        pauseMs: flags.pauseMs,
        onStarted: () => process.stdout.write("re-wrapping (safe to interrupt: run the command again to go on)\n"),
      });
      const { key_material, access_keys } = result.rewrapped;
      const counts = `${key_material} key versions, ${access_keys} access-key secrets, ${result.rewrapped["purpose keys"]} purpose keys`;
      const lines = [
        result.from === result.to
          ? `the store is already under the ${describeRootKind(result.to)}: nothing to do`
          : `${result.resumed ? "resumed the migration" : "migrated"} from the ${describeRootKind(result.from)} to the ${describeRootKind(result.to)}: re-wrapped ${counts}`,
        ...(result.notRootWrapped > 0
          ? [`${result.notRootWrapped} stored values are wrapped by no root of trust and were left as they are`]
          : []),
        ...result.failures.map((failure) => `FAILED: ${failure}`),
      ];
      if (result.from !== result.to) {
        lines.push(
          result.finished
            ? `the store is now under the ${describeRootKind(result.to)}; start Trent with --root ${result.to}`
            : "the migration is still in progress: run trent root migrate again to finish it",
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
      process.exitCode = result.finished ? 0 : 1;
    } finally {
      roots.close();
      await store.close();
    }
  });
}
