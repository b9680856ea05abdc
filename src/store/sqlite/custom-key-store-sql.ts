import type { ConnectionStateType } from "@aws-sdk/client-kms";
import type Database from "better-sqlite3";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../../domain/custom-key-store.js";
import {
  type CustomKeyStoreRow,
  customKeyStoreRowValues,
  customKeyStoreUpdate,
  listParams,
  CUSTOM_KEY_STORE_SQL as SQL,
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
      insert: db.prepare(SQL.insert),
      get: db.prepare<[{ id: string }], CustomKeyStoreRow>(SQL.get),
      byName: db.prepare<[{ account: string; region: string; name: string }], CustomKeyStoreRow>(SQL.byName),
      byCluster: db.prepare<[{ cluster: string }], CustomKeyStoreRow>(SQL.byCluster),
      list: db.prepare<[ReturnType<typeof listParams>], CustomKeyStoreRow>(SQL.list),
      keys: db.prepare<[{ id: string; after: string; limit: number }], string>(SQL.keys).pluck(),
      delete: db.prepare(SQL.delete),
    };
  }

  async createCustomKeyStore(store: CustomKeyStoreRecord): Promise<"created" | CustomKeyStoreConflict> {
    const s = this.statements;
    return this.db
      .transaction((): "created" | CustomKeyStoreConflict => {
        if (s.byName.get({ account: store.accountId, region: store.region, name: store.name })) return "name-in-use";
        if (s.byCluster.get({ cluster: store.cloudHsmClusterId })) return "cluster-in-use";
        s.insert.run(customKeyStoreRowValues(store));
        return "created";
      })
      .immediate();
  }

  async getCustomKeyStore(customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.statements.get.get({ id: customKeyStoreId });
    return row && toCustomKeyStore(row);
  }

  async findCustomKeyStoreByName(
    accountId: string,
    region: string,
    name: string,
  ): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.statements.byName.get({ account: accountId, region, name });
    return row && toCustomKeyStore(row);
  }

  async listCustomKeyStores(
    accountId: string | null,
    region: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<CustomKeyStoreRecord>> {
    const rows = this.statements.list.all(listParams(accountId, region, after, limit));
    return page(rows.map(toCustomKeyStore), limit, (store) => store.customKeyStoreId);
  }

  async updateCustomKeyStore(
    customKeyStoreId: string,
    changes: CustomKeyStoreChanges,
    onlyInStates?: readonly ConnectionStateType[],
  ): Promise<"updated" | "unchanged" | CustomKeyStoreConflict> {
    const s = this.statements;
    const update = customKeyStoreUpdate(customKeyStoreId, changes, onlyInStates);
    return this.db
      .transaction((): "updated" | "unchanged" | CustomKeyStoreConflict => {
        const current = s.get.get({ id: customKeyStoreId });
        if (current === undefined) return "unchanged";
        if (changes.name !== undefined && changes.name !== current.name) {
          if (s.byName.get({ account: current.account_id, region: current.region, name: changes.name })) {
            return "name-in-use";
          }
        }
        if (changes.cloudHsmClusterId !== undefined && changes.cloudHsmClusterId !== current.cloud_hsm_cluster_id) {
          if (s.byCluster.get({ cluster: changes.cloudHsmClusterId })) return "cluster-in-use";
        }
        // Nothing to write: no write transaction is committed, only the state is compared.
        if (!update.writes) return onlyInStatesMatch(current, onlyInStates) ? "updated" : "unchanged";
        return this.prepared(update.sql).run(update.params).changes === 1 ? "updated" : "unchanged";
      })
      .immediate();
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.updates.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.updates.set(sql, statement);
    }
    return statement;
  }

  async deleteCustomKeyStore(
    customKeyStoreId: string,
    onlyInStates: readonly ConnectionStateType[],
  ): Promise<"deleted" | "has-keys" | "unchanged"> {
    const s = this.statements;
    return this.db
      .transaction((): "deleted" | "has-keys" | "unchanged" => {
        const current = s.get.get({ id: customKeyStoreId });
        if (current === undefined || !onlyInStatesMatch(current, onlyInStates)) return "unchanged";
        if (s.keys.get({ id: customKeyStoreId, after: "", limit: 1 }) !== undefined) return "has-keys";
        s.delete.run({ id: customKeyStoreId });
        return "deleted";
      })
      .immediate();
  }

  async keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number): Promise<Page<string>> {
    const ids = this.statements.keys.all({ id: customKeyStoreId, after: after ?? "", limit: limit + 1 });
    return page(ids, limit, (id) => id);
  }
}

function onlyInStatesMatch(row: CustomKeyStoreRow, states: readonly ConnectionStateType[] | undefined): boolean {
  return states === undefined || states.includes(row.connection_state as ConnectionStateType);
}
