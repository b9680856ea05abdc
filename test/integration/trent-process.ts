import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface TrentProcess {
  readonly url: string;
  /** The HTTPS listener's URL when Trent was started with --listen-tls. */
  readonly tlsUrl: string | undefined;
  readonly dataDir: string;
  /** The postgres:// URL of this Trent's own database, or undefined when it runs on SQLite. */
  readonly storeUrl: string | undefined;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly accountId: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The store the integration tests run Trent on: TRENT_TEST_STORE=postgres gives every Trent a
 * fresh database in the cluster at TRENT_TEST_POSTGRES_URL (scripts/test.sh runs the suite once
 * with each store); unset or "sqlite", the SQLite store in the data directory.
 */
export function testStore(): { kind: "sqlite" } | { kind: "postgres"; serverUrl: string } {
  const kind = process.env.TRENT_TEST_STORE ?? "sqlite";
  if (kind === "sqlite") return { kind };
  const serverUrl = process.env.TRENT_TEST_POSTGRES_URL;
  if (kind !== "postgres") throw new Error(`TRENT_TEST_STORE must be sqlite or postgres, not ${kind}`);
  if (!serverUrl) throw new Error("TRENT_TEST_STORE=postgres needs TRENT_TEST_POSTGRES_URL (a postgres:// URL)");
  return { kind, serverUrl };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates an empty database in the cluster at `serverUrl`; returns its URL. */
export async function createDatabase(serverUrl: string): Promise<string> {
  const database = `trent_${randomBytes(8).toString("hex")}`;
  await sql(serverUrl, `CREATE DATABASE ${database}`);
  return withDatabase(serverUrl, database);
}

/** Drops a database made by createDatabase, closing any connections left to it. */
export async function dropDatabase(url: string): Promise<void> {
  const database = new URL(url).pathname.slice(1);
  if (!/^trent_[0-9a-f]{16}$/.test(database)) throw new Error(`${url} was not made by createDatabase`);
  await sql(withDatabase(url, "postgres"), `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

/**
 * Starts the real `trent serve` in a child process on a free port with a fresh data directory
 * (and, on PostgreSQL, a fresh database, dropped at stop), and resolves once it listens.
 * `extraArgs` are passed to `serve`; a `--store` among them overrides the test store; `nodeArgs`
 * go to node itself (the bench's profiler passes `--cpu-prof`); a given `dataDir` is used as it is
 * and kept at stop.
 */
export async function startTrentProcess(
  extraArgs: string[] = [],
  options: {
    nodeArgs?: readonly string[];
    dataDir?: string;
    /**
     * `--quotas`: off unless a test is about them, since the suites create keys far faster than
     * AWS's 5 CreateKey per second; the benchmark turns them on through TRENT_TEST_QUOTAS.
     */
    quotas?: string;
  } = {},
): Promise<TrentProcess> {
  const store = testStore();
  const ownDatabase =
    store.kind === "postgres" && !extraArgs.includes("--store") ? await createDatabase(store.serverUrl) : undefined;
  const storeArgs = ownDatabase === undefined ? [] : ["--store", ownDatabase];
  const storeArgIndex = extraArgs.indexOf("--store");
  const storeUrl = ownDatabase ?? (storeArgIndex >= 0 ? extraArgs[storeArgIndex + 1] : undefined);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "trent-test-"));
  const env: NodeJS.ProcessEnv = { ...process.env, TRENT_LOG_LEVEL: process.env.TRENT_LOG_LEVEL ?? "info" };
  delete env.TRENT_STORE;
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      CLI,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--key-pair-pool",
      "0",
      "--quotas",
      options.quotas ?? process.env.TRENT_TEST_QUOTAS ?? "off",
      ...storeArgs,
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "inherit"], env },
  );
  const cleanUp = async () => {
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    if (ownDatabase !== undefined) await dropDatabase(ownDatabase);
  };
  let listening: { url: string; tlsUrl: string | undefined; accountId: string };
  try {
    listening = await new Promise<{ url: string; tlsUrl: string | undefined; accountId: string }>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
      const timer = setTimeout(() => reject(new Error("Trent did not start within 30 s")), 30_000);
      child.once("exit", (code) => reject(new Error(`Trent exited with code ${code} before listening`)));
      lines.on("line", (line) => {
        if (!line.startsWith("{")) return;
        const entry = JSON.parse(line) as { msg?: string; url?: string; tlsUrl?: string; accountId?: string };
        if (entry.msg === "Trent is listening") {
          clearTimeout(timer);
          resolve({ url: entry.url as string, tlsUrl: entry.tlsUrl, accountId: entry.accountId as string });
        }
      });
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    await cleanUp();
    throw error;
  }
  const ini = readFileSync(join(dataDir, "credentials"), "utf8");
  const field = (name: string) => (new RegExp(`^${name} = (.+)$`, "m").exec(ini)?.[1] ?? "").trim();
  return {
    url: listening.url,
    tlsUrl: listening.tlsUrl,
    dataDir,
    storeUrl,
    region: field("region"),
    accountId: listening.accountId,
    credentials: { accessKeyId: field("aws_access_key_id"), secretAccessKey: field("aws_secret_access_key") },
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await cleanUp();
    },
  };
}
