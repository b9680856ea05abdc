import { join } from "node:path";

/** Where a `--store` value points: the SQLite file of the data directory, or a PostgreSQL database. */
export type StoreLocation =
  | { readonly kind: "sqlite"; readonly file: string }
  | { readonly kind: "postgres"; readonly url: string };

/** Unset, "" or "sqlite" is the embedded SQLite store in `dataDir`; a postgres:// URL is PostgreSQL. */
export function storeLocation(dataDir: string, storeUrl: string | undefined): StoreLocation {
  if (storeUrl === undefined || storeUrl === "" || storeUrl === "sqlite") {
    return { kind: "sqlite", file: join(dataDir, "trent.db") };
  }
  if (/^postgres(ql)?:\/\//.test(storeUrl)) return { kind: "postgres", url: storeUrl };
  throw new Error(
    `unsupported store ${storeUrl.replace(/\/\/[^@/]*@/, "//***@")}: use a postgres:// URL, or leave it unset for SQLite`,
  );
}
