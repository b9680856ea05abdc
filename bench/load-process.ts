import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LoadJob, LoadResult } from "./load.js";

const LOAD_WORKER = fileURLToPath(new URL("./load-worker.js", import.meta.url));

/** Runs one load job in a fresh `node load-worker.js` child process and returns its result. */
export function runLoadInChildProcess(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD_WORKER], { stdio: ["pipe", "pipe", "inherit"] });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`the load process exited with code ${code}`));
      else resolve(JSON.parse(output) as LoadResult);
    });
    child.stdin.end(JSON.stringify(job));
  });
}
