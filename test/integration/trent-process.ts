import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface TrentProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly accountId: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the real `trent serve` in a child process on a free port with a fresh data directory,
 * and resolves once it listens. `extraArgs` are passed to `serve`.
 */
export async function startTrentProcess(extraArgs: string[] = []): Promise<TrentProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "trent-test-"));
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--listen", "127.0.0.1:0", "--data", dataDir, "--key-pair-pool", "0", ...extraArgs],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, TRENT_LOG_LEVEL: "info" } },
  );
  const listening = await new Promise<{ url: string; accountId: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    const timer = setTimeout(() => reject(new Error("Trent did not start within 30 s")), 30_000);
    child.once("exit", (code) => reject(new Error(`Trent exited with code ${code} before listening`)));
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string; accountId?: string };
      if (entry.msg === "Trent is listening") {
        clearTimeout(timer);
        resolve({ url: entry.url as string, accountId: entry.accountId as string });
      }
    });
  });
  const ini = readFileSync(join(dataDir, "credentials"), "utf8");
  const field = (name: string) => (new RegExp(`^${name} = (.+)$`, "m").exec(ini)?.[1] ?? "").trim();
  return {
    url: listening.url,
    dataDir,
    region: field("region"),
    accountId: listening.accountId,
    credentials: { accessKeyId: field("aws_access_key_id"), secretAccessKey: field("aws_secret_access_key") },
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
