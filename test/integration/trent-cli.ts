import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The compiled `trent` command. */
export const TRENT_CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The test's environment without TRENT_* settings, which would change what a `trent` command does. */
export function envWithoutTrentSettings(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("TRENT_")) delete env[name];
  return env;
}

/** Runs the real `trent` command to its end. */
export function trentCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TRENT_CLI, ...args],
      { env: envWithoutTrentSettings(), timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
