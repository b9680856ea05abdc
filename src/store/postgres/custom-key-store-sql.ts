import type { ConnectionStateType } from "@aws-sdk/client-kms";
import type pg from "pg";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../../domain/custom-key-store.js";
import {
  CUSTOM_KEY_STORE_SQL,
  type CustomKeyStoreRow,
  customKeyStoreRowValues,
  customKeyStoreUpdate,
  listParams,
  toCustomKeyStore,
} from "../custom-key-store-rows.js";
import type { CustomKeyStoreConflict, CustomKeyStoreTable } from "../custom-key-stores.js";
import { page } from "../sql-rows.js";
import type { Page } from "../store.js";
import { type NamedStatement, named } from "./named-parameters.js";

type Query = <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<pg.QueryResult<R>>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

const SQL = Object.fromEntries(Object.entries(CUSTOM_KEY_STORE_SQL).map(([name, sql]) => [name, named(sql)])) as Record<
  keyof typeof CUSTOM_KEY_STORE_SQL,
  NamedStatement
>;
// The row lock makes a concurrent CreateKey in this store (its foreign key check) wait, or wait for it.
const LOCK = named(`${CUSTOM_KEY_STORE_SQL.get} FOR UPDATE`);

const UNIQUE_VIOLATION = "23505";

/**
 * A unique index the write ran into, as the conflict it means. Checked before writing too; this
 * is the answer when another node wrote the same name or cluster in between.
 */
function conflictOf(error: unknown): CustomKeyStoreConflict | undefined {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code !== UNIQUE_VIOLATION) return undefined;
  if (constraint === "custom_key_stores_by_name") return "name-in-use";
  if (constraint === "custom_key_stores_by_cluster") return "cluster-in-use";
  return undefined;
}

/** The PostgreSQL half of CustomKeyStoreTable, on the store's pool and transactions. */
export class PostgresCustomKeyStores implements CustomKeyStoreTable {
  constructor(
    private readonly query: Query,
    private readonly transaction: Transaction,
  ) {}

  private async rows<R extends pg.QueryResultRow>(
    statement: NamedStatement,
    params: Readonly<Record<string, unknown>>,
  ): Promise<R[]> {
    return (await this.query<R>(statement.text, statement.values(params))).rows;
  }

  /** Runs a write; a unique index it ran into is answered as its conflict. */
  private async write(
    statement: NamedStatement,
    params: Readonly<Record<string, unknown>>,
  ): Promise<number | CustomKeyStoreConflict> {
    try {
      return (await this.query(statement.text, statement.values(params))).rowCount ?? 0;
    } catch (error) {
      const conflict = conflictOf(error);
      if (conflict === undefined) throw error;
      return conflict;
    }
  }

  private async clusterInUse(cluster: string): Promise<boolean> {
    return (await this.rows(SQL.byCluster, { cluster })).length > 0;
  }

  async createCustomKeyStore(store: CustomKeyStoreRecord): Promise<"created" | CustomKeyStoreConflict> {
    if (await this.findCustomKeyStoreByName(store.accountId, store.region, store.name)) return "name-in-use";
    if (await this.clusterInUse(store.cloudHsmClusterId)) return "cluster-in-use";
    const written = await this.write(SQL.insert, customKeyStoreRowValues(store));
    return typeof written === "number" ? "created" : written;
  }

  async getCustomKeyStore(customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const [row] = await this.rows<CustomKeyStoreRow>(SQL.get, { id: customKeyStoreId });
    return row && toCustomKeyStore(row);
  }

  async findCustomKeyStoreByName(
    accountId: string,
    region: string,
    name: string,
  ): Promise<CustomKeyStoreRecord | undefined> {
    const [row] = await this.rows<CustomKeyStoreRow>(SQL.byName, { account: accountId, region, name });
    return row && toCustomKeyStore(row);
  }

  async listCustomKeyStores(
    accountId: string | null,
    region: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<CustomKeyStoreRecord>> {
    const rows = await this.rows<CustomKeyStoreRow>(SQL.list, listParams(accountId, region, after, limit));
    return page(rows.map(toCustomKeyStore), limit, (store) => store.customKeyStoreId);
  }

  async updateCustomKeyStore(
    customKeyStoreId: string,
    changes: CustomKeyStoreChanges,
    onlyInStates?: readonly ConnectionStateType[],
  ): Promise<"updated" | "unchanged" | CustomKeyStoreConflict> {
    const current = await this.getCustomKeyStore(customKeyStoreId);
    if (current === undefined) return "unchanged";
    if (changes.name !== undefined && changes.name !== current.name) {
      if (await this.findCustomKeyStoreByName(current.accountId, current.region, changes.name)) return "name-in-use";
    }
    if (changes.cloudHsmClusterId !== undefined && changes.cloudHsmClusterId !== current.cloudHsmClusterId) {
      if (await this.clusterInUse(changes.cloudHsmClusterId)) return "cluster-in-use";
    }
    // With nothing to write, the statement still tells whether the store is in one of the states.
    const update = customKeyStoreUpdate(customKeyStoreId, changes, onlyInStates);
    const written = await this.write(named(update.sql), update.params);
    if (typeof written !== "number") return written;
    return written === 1 ? "updated" : "unchanged";
  }

  async deleteCustomKeyStore(
    customKeyStoreId: string,
    onlyInStates: readonly ConnectionStateType[],
  ): Promise<"deleted" | "has-keys" | "unchanged"> {
    const id = { id: customKeyStoreId };
    return this.transaction(async (client) => {
      const { rows } = await client.query<CustomKeyStoreRow>(LOCK.text, LOCK.values(id));
      const state = rows[0]?.connection_state as ConnectionStateType | undefined;
      if (state === undefined || !onlyInStates.includes(state)) return "unchanged";
      const keys = await client.query(SQL.keys.text, SQL.keys.values({ ...id, after: "", limit: 1 }));
      if (keys.rows.length > 0) return "has-keys";
      await client.query(SQL.delete.text, SQL.delete.values(id));
      return "deleted";
    });
  }

  async keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number): Promise<Page<string>> {
    const rows = await this.rows<{ key_id: string }>(SQL.keys, {
      id: customKeyStoreId,
      after: after ?? "",
      limit: limit + 1,
    });
    return page(
      rows.map((row) => row.key_id),
      limit,
      (id) => id,
    );
  }
}
