import type { ConnectionStateType } from "@aws-sdk/client-kms";
import type pg from "pg";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../../domain/custom-key-store.js";
import {
  CUSTOM_KEY_STORE_COLUMNS,
  type CustomKeyStoreRow,
  customKeyStoreAssignments,
  customKeyStoreRowValues,
  toCustomKeyStore,
} from "../custom-key-store-rows.js";
import type { CustomKeyStoreConflict, CustomKeyStoreTable } from "../custom-key-stores.js";
import { page } from "../sql-rows.js";
import type { Page } from "../store.js";

type Query = <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<pg.QueryResult<R>>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

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

  async createCustomKeyStore(store: CustomKeyStoreRecord): Promise<"created" | CustomKeyStoreConflict> {
    if (await this.findCustomKeyStoreByName(store.accountId, store.region, store.name)) return "name-in-use";
    const { rows } = await this.query("SELECT 1 FROM custom_key_stores WHERE cloud_hsm_cluster_id = $1", [
      store.cloudHsmClusterId,
    ]);
    if (rows.length > 0) return "cluster-in-use";
    const values = customKeyStoreRowValues(store);
    try {
      await this.query(
        `INSERT INTO custom_key_stores (${CUSTOM_KEY_STORE_COLUMNS.join(", ")})
         VALUES (${CUSTOM_KEY_STORE_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`,
        CUSTOM_KEY_STORE_COLUMNS.map((column) => values[column]),
      );
      return "created";
    } catch (error) {
      const conflict = conflictOf(error);
      if (conflict === undefined) throw error;
      return conflict;
    }
  }

  async getCustomKeyStore(customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const { rows } = await this.query<CustomKeyStoreRow>(
      "SELECT * FROM custom_key_stores WHERE custom_key_store_id = $1",
      [customKeyStoreId],
    );
    return rows[0] && toCustomKeyStore(rows[0]);
  }

  async findCustomKeyStoreByName(
    accountId: string,
    region: string,
    name: string,
  ): Promise<CustomKeyStoreRecord | undefined> {
    const { rows } = await this.query<CustomKeyStoreRow>(
      "SELECT * FROM custom_key_stores WHERE account_id = $1 AND region = $2 AND name = $3",
      [accountId, region, name],
    );
    return rows[0] && toCustomKeyStore(rows[0]);
  }

  async listCustomKeyStores(
    accountId: string | null,
    region: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<CustomKeyStoreRecord>> {
    const { rows } = await this.query<CustomKeyStoreRow>(
      `SELECT * FROM custom_key_stores WHERE ($1::text IS NULL OR account_id = $1)
       AND ($2::text IS NULL OR region = $2) AND custom_key_store_id > $3
       ORDER BY custom_key_store_id LIMIT $4`,
      [accountId, region, after ?? "", limit + 1],
    );
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
      const { rows } = await this.query("SELECT 1 FROM custom_key_stores WHERE cloud_hsm_cluster_id = $1", [
        changes.cloudHsmClusterId,
      ]);
      if (rows.length > 0) return "cluster-in-use";
    }
    const assignments = customKeyStoreAssignments(changes);
    const params: unknown[] = [customKeyStoreId, onlyInStates ?? null];
    // With nothing to write, the statement still tells whether the store is in one of the states.
    const set =
      assignments.length === 0
        ? "custom_key_store_id = custom_key_store_id"
        : assignments
            .map(({ column, value }) => {
              params.push(value);
              return `${column} = $${params.length}`;
            })
            .join(", ");
    try {
      const result = await this.query(
        `UPDATE custom_key_stores SET ${set}
         WHERE custom_key_store_id = $1 AND ($2::text[] IS NULL OR connection_state = ANY($2::text[]))`,
        params,
      );
      return result.rowCount === 1 ? "updated" : "unchanged";
    } catch (error) {
      const conflict = conflictOf(error);
      if (conflict === undefined) throw error;
      return conflict;
    }
  }

  async deleteCustomKeyStore(
    customKeyStoreId: string,
    onlyInStates: readonly ConnectionStateType[],
  ): Promise<"deleted" | "has-keys" | "unchanged"> {
    return this.transaction(async (client) => {
      // The row lock makes a concurrent CreateKey in this store (its foreign key check) wait, or wait for it.
      const { rows } = await client.query<{ connection_state: string }>(
        "SELECT connection_state FROM custom_key_stores WHERE custom_key_store_id = $1 FOR UPDATE",
        [customKeyStoreId],
      );
      const state = rows[0]?.connection_state as ConnectionStateType | undefined;
      if (state === undefined || !onlyInStates.includes(state)) return "unchanged";
      const keys = await client.query("SELECT 1 FROM keys WHERE custom_key_store_id = $1 LIMIT 1", [customKeyStoreId]);
      if (keys.rows.length > 0) return "has-keys";
      await client.query("DELETE FROM custom_key_stores WHERE custom_key_store_id = $1", [customKeyStoreId]);
      return "deleted";
    });
  }

  async keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number): Promise<Page<string>> {
    const { rows } = await this.query<{ key_id: string }>(
      "SELECT key_id FROM keys WHERE custom_key_store_id = $1 AND key_id > $2 ORDER BY key_id LIMIT $3",
      [customKeyStoreId, after ?? "", limit + 1],
    );
    return page(
      rows.map((row) => row.key_id),
      limit,
      (id) => id,
    );
  }
}
