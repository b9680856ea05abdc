import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A throwaway PostgreSQL cluster started by scripts/postgres-test-server.mjs. */
export interface PostgresServer {
  readonly url: string;
  readonly dataDir: string;
  /** Stops the server but keeps the cluster, so that `resume` can start it again on the same port. */
  halt(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
}

export class PostgresNotInstalledError extends Error {}

const NOT_INSTALLED = 3;

function findScript(): string {
  // Compiled to dist/test/support/ or run from test/support/: look upwards for the repository's scripts/.
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const script = join(dir, "scripts", "postgres-test-server.mjs");
    if (existsSync(script)) return script;
  }
  throw new Error("scripts/postgres-test-server.mjs not found above this file");
}

function runScript(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [findScript(), ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const message = stderr.trim() || error.message;
      reject(error.code === NOT_INSTALLED ? new PostgresNotInstalledError(message) : new Error(message));
    });
  });
}

/** Starts a fresh cluster (initdb, a free port on 127.0.0.1, a database `trent`); rejects with
 * PostgresNotInstalledError when the PostgreSQL programs are missing. */
export async function startPostgres(): Promise<PostgresServer> {
  const { url, dataDir } = JSON.parse(await runScript("start")) as { url: string; dataDir: string };
  return {
    url,
    dataDir,
    halt: async () => void (await runScript("halt", dataDir)),
    resume: async () => void (await runScript("resume", dataDir)),
    stop: async () => void (await runScript("stop", dataDir)),
  };
}
