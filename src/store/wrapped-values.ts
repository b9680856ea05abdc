import { page } from "./sql-rows.js";
import type { Page } from "./store.js";

/**
 * The columns that hold values wrapped under the root of trust, each in its table with the
 * table's primary key: what `trent root migrate` reads row by row and re-wraps in place. A new
 * table with a wrapped column belongs here (and its wrap context in src/root/root-migration.ts).
 */
export const WRAPPED_COLUMNS = {
  key_material: { primaryKey: ["key_id", "version"], column: "wrapped" },
  access_keys: { primaryKey: ["access_key_id"], column: "wrapped_secret" },
  custom_key_stores: { primaryKey: ["custom_key_store_id"], column: "wrapped_password" },
} as const satisfies Record<string, { primaryKey: readonly string[]; column: string }>;

export type WrappedTable = keyof typeof WRAPPED_COLUMNS;

export const WRAPPED_TABLES = Object.keys(WRAPPED_COLUMNS) as WrappedTable[];

/** One wrapped value and the row that holds it. */
export interface WrappedValue {
  readonly table: WrappedTable;
  /** The row's primary key, in WRAPPED_COLUMNS order (key_material: its store row id and version). */
  readonly rowKey: readonly (string | number)[];
  readonly wrapped: Buffer;
}

/**
 * The SQL both stores run, with `parameter(i)` their placeholder for the i-th parameter (from 1):
 * a page of a table's wrapped values after a row key (keyset pagination, NULLs skipped), and a
 * compare-and-set of one row's value.
 */
export function wrappedValueSql(table: WrappedTable, parameter: (index: number) => string) {
  const { primaryKey, column } = WRAPPED_COLUMNS[table];
  const key = primaryKey.join(", ");
  const keyParameters = primaryKey.map((_, i) => parameter(i + 1)).join(", ");
  const select = `SELECT ${key}, ${column} AS wrapped FROM ${table} WHERE ${column} IS NOT NULL`;
  const limitAfter = parameter(primaryKey.length + 1);
  return {
    first: `${select} ORDER BY ${key} LIMIT ${parameter(1)}`,
    after: `${select} AND (${key}) > (${keyParameters}) ORDER BY ${key} LIMIT ${limitAfter}`,
    replace: `UPDATE ${table} SET ${column} = ${parameter(1)} WHERE ${primaryKey
      .map((name, i) => `${name} = ${parameter(i + 2)}`)
      .join(" AND ")} AND ${column} = ${parameter(primaryKey.length + 2)}`,
  };
}

/** The rows one scan query returned, as a page whose cursor is the last row key. */
export function wrappedValuePage(
  table: WrappedTable,
  rows: readonly Record<string, unknown>[],
  limit: number,
): Page<WrappedValue> {
  const { primaryKey } = WRAPPED_COLUMNS[table];
  const values = rows.map((row) => ({
    table,
    rowKey: primaryKey.map((name) => row[name]) as (string | number)[],
    wrapped: row.wrapped as Buffer,
  }));
  return page(values, limit, (value) => JSON.stringify(value.rowKey));
}

/** The row key a page cursor names. */
export function wrappedValueCursor(after: string): (string | number)[] {
  return JSON.parse(after) as (string | number)[];
}
