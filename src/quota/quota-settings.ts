import { readFileSync } from "node:fs";
import { AWS_DEFAULT_QUOTAS, QUOTA_CLASSES, type QuotaClass } from "./quota-classes.js";

/** The rates one Trent node enforces, in requests per second per account and region. */
export interface QuotaSettings {
  /** Every account's rate for each class. */
  readonly rates: Readonly<Record<QuotaClass, number>>;
  /** Accounts with rates of their own for some classes; the others follow `rates`. */
  readonly accounts: ReadonlyMap<string, Readonly<Partial<Record<QuotaClass, number>>>>;
}

export const AWS_DEFAULT_SETTINGS: QuotaSettings = { rates: AWS_DEFAULT_QUOTAS, accounts: new Map() };

export class QuotaFileError extends Error {}

/**
 * `--quotas` / TRENT_QUOTAS: absent or `default` for AWS's defaults, `off` (or `--no-quotas`)
 * for none, otherwise a JSON file of overrides (see `parseQuotaFile`).
 */
export function quotaSettingsOf(option: string | false | undefined): QuotaSettings | null {
  if (option === false || option === "off") return null;
  if (option === undefined || option === "default") return AWS_DEFAULT_SETTINGS;
  let text: string;
  try {
    text = readFileSync(option, "utf8");
  } catch (error) {
    throw new QuotaFileError(`cannot read the quota file ${option}: ${(error as Error).message}`);
  }
  return parseQuotaFile(text, option);
}

/**
 * A quota file overrides AWS's defaults for every account (`rates`) and for single accounts
 * (`accounts`), by class name:
 * `{"rates": {"CreateKey": 50}, "accounts": {"111122223333": {"Cryptographic operations (symmetric)": 100}}}`.
 */
export function parseQuotaFile(text: string, source: string): QuotaSettings {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new QuotaFileError(`${source} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(document)) throw new QuotaFileError(`${source} must hold a JSON object with "rates" and/or "accounts"`);
  const unknown = Object.keys(document).filter((name) => name !== "rates" && name !== "accounts");
  if (unknown.length > 0) {
    throw new QuotaFileError(`${source}: unknown member ${unknown.join(", ")}; expected "rates" and/or "accounts"`);
  }
  const rates = { ...AWS_DEFAULT_QUOTAS, ...ratesOf(document.rates ?? {}, `${source} rates`) };
  const accounts = new Map<string, Partial<Record<QuotaClass, number>>>();
  const accountEntries = document.accounts ?? {};
  if (!isObject(accountEntries)) throw new QuotaFileError(`${source} accounts must be an object keyed by account id`);
  for (const [accountId, overrides] of Object.entries(accountEntries)) {
    if (!/^\d{12}$/.test(accountId))
      throw new QuotaFileError(`${source} accounts: ${accountId} is not a 12-digit account id`);
    accounts.set(accountId, ratesOf(overrides, `${source} accounts.${accountId}`));
  }
  return { rates, accounts };
}

function ratesOf(value: unknown, where: string): Partial<Record<QuotaClass, number>> {
  if (!isObject(value)) throw new QuotaFileError(`${where} must be an object of class name to requests per second`);
  const rates: Partial<Record<QuotaClass, number>> = {};
  for (const [name, rate] of Object.entries(value)) {
    if (!(QUOTA_CLASSES as readonly string[]).includes(name)) {
      throw new QuotaFileError(`${where}: unknown quota class "${name}"; the classes are ${QUOTA_CLASSES.join(", ")}`);
    }
    if (typeof rate !== "number" || !Number.isFinite(rate) || rate <= 0) {
      throw new QuotaFileError(`${where}: "${name}" must be a positive number of requests per second`);
    }
    rates[name as QuotaClass] = rate;
  }
  return rates;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
