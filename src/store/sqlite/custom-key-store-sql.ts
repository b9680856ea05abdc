import type { ConnectionStateType } from "@aws-sdk/client-kms";
import type Database from "better-sqlite3";
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

/** The SQLite half of CustomKeyStoreTable; writes that check before they write are IMMEDIATE transactions. */
export class SqliteCustomKeyStores implements CustomKeyStoreTable {
  private readonly statements;
  private readonly updates = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.statements = {
      insert: db.prepare(
        `INSERT INTO custom_key_stores (${CUSTOM_KEY_STORE_COLUMNS.join(", ")})
         VALUES (${CUSTOM_KEY_STORE_COLUMNS.map((column) => `:${column}`).join(", ")})`,
      ),
      get: db.prepare<[string], CustomKeyStoreRow>("SELECT * FROM custom_key_stores WHERE custom_key_store_id = ?"),
      byName: db.prepare<[string, string, string], CustomKeyStoreRow>(
        "SELECT * FROM custom_key_stores WHERE account_id = ? AND region = ? AND name = ?",
      ),
      byCluster: db.prepare<[string], CustomKeyStoreRow>(
        "SELECT * FROM custom_key_stores WHERE cloud_hsm_cluster_id = ?",
      ),
      list: db.prepare<
        [{ account: string | null; region: string | null; after: string; limit: number }],
        CustomKeyStoreRow
      >(
        `SELECT * FROM custom_key_stores WHERE (:account IS NULL OR account_id = :account)
         AND (:region IS NULL OR region = :region) AND custom_key_store_id > :after
         ORDER BY custom_key_store_id LIMIT :limit`,
      ),
      keys: db
        .prepare<[string, string, number], string>(
          `SELECT key_id FROM keys WHERE custom_key_store_id = ? AND key_id > ? ORDER BY key_id LIMIT ?`,
        )
        .pluck(),
      delete: db.prepare("DELETE FROM custom_key_stores WHERE custom_key_store_id = ?"),
    };
  }

  async createCustomKeyStore(store: CustomKeyStoreRecord): Promise<"created" | CustomKeyStoreConflict> {
    return this.db
      .transaction((): "created" | CustomKeyStoreConflict => {
        if (this.statements.byName.get(store.accountId, store.region, store.name)) return "name-in-use";
        if (this.statements.byCluster.get(store.cloudHsmClusterId)) return "cluster-in-use";
        this.statements.insert.run(customKeyStoreRowValues(store));
        return "created";
      })
      .immediate();
  }

  async getCustomKeyStore(customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.statements.get.get(customKeyStoreId);
    return row && toCustomKeyStore(row);
  }

  async findCustomKeyStoreByName(
    accountId: string,
    region: string,
    name: string,
  ): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.statements.byName.get(accountId, region, name);
    return row && toCustomKeyStore(row);
  }

  async listCustomKeyStores(
    accountId: string | null,
    region: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<CustomKeyStoreRecord>> {
    const rows = this.statements.list.all({ account: accountId, region, after: after ?? "", limit: limit + 1 });
    return page(rows.map(toCustomKeyStore), limit, (store) => store.customKeyStoreId);
  }

  async updateCustomKeyStore(
    customKeyStoreId: string,
    changes: CustomKeyStoreChanges,
    onlyInStates?: readonly ConnectionStateType[],
  ): Promise<"updated" | "unchanged" | CustomKeyStoreConflict> {
    const assignments = customKeyStoreAssignments(changes);
    const params: Record<string, unknown> = { id: customKeyStoreId };
    for (const { column, value } of assignments) params[column] = value;
    let sql = `UPDATE custom_key_stores SET ${assignments.map(({ column }) => `${column} = :${column}`).join(", ")}
      WHERE custom_key_store_id = :id`;
    if (onlyInStates !== undefined) {
      onlyInStates.forEach((state, i) => {
        params[`state${i}`] = state;
      });
      sql += ` AND connection_state IN (${onlyInStates.map((_, i) => `:state${i}`).join(", ")})`;
    }
    const update = () => {
      let statement = this.updates.get(sql);
      if (statement === undefined) {
        statement = this.db.prepare(sql);
        this.updates.set(sql, statement);
      }
      return statement.run(params).changes === 1;
    };
    return this.db
      .transaction((): "updated" | "unchanged" | CustomKeyStoreConflict => {
        const current = this.statements.get.get(customKeyStoreId);
        if (current === undefined) return "unchanged";
        if (changes.name !== undefined && changes.name !== current.name) {
          if (this.statements.byName.get(current.account_id, current.region, changes.name)) return "name-in-use";
        }
        if (changes.cloudHsmClusterId !== undefined && changes.cloudHsmClusterId !== current.cloud_hsm_cluster_id) {
          if (this.statements.byCluster.get(changes.cloudHsmClusterId)) return "cluster-in-use";
        }
        if (assignments.length === 0) return onlyInStatesMatch(current, onlyInStates) ? "updated" : "unchanged";
        return update() ? "updated" : "unchanged";
      })
      .immediate();
  }

  async deleteCustomKeyStore(
    customKeyStoreId: string,
    onlyInStates: readonly ConnectionStateType[],
  ): Promise<"deleted" | "has-keys" | "unchanged"> {
    return this.db
      .transaction((): "deleted" | "has-keys" | "unchanged" => {
        const current = this.statements.get.get(customKeyStoreId);
        if (current === undefined || !onlyInStatesMatch(current, onlyInStates)) return "unchanged";
        if (this.statements.keys.get(customKeyStoreId, "", 1) !== undefined) return "has-keys";
        this.statements.delete.run(customKeyStoreId);
        return "deleted";
      })
      .immediate();
  }

  async keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number): Promise<Page<string>> {
    const ids = this.statements.keys.all(customKeyStoreId, after ?? "", limit + 1);
    return page(ids, limit, (id) => id);
  }
}

function onlyInStatesMatch(row: CustomKeyStoreRow, states: readonly ConnectionStateType[] | undefined): boolean {
  return states === undefined || states.includes(row.connection_state as ConnectionStateType);
}
