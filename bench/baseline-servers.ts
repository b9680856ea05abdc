import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Target } from "./load.js";

const CEILING_SERVER = fileURLToPath(new URL("./ceiling-server.js", import.meta.url));
const START_TIMEOUT_MS = 30_000;

/** A baseline server running in its own process. */
export interface BaselineServer extends Target {
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
}

/** Neither baseline checks signatures; any credentials will do. */
const DUMMY = { region: "us-east-1", credentials: { accessKeyId: "AKIDBENCHMARK", secretAccessKey: "benchmark" } };

/** Starts bench/ceiling-server.js, answering every POST with a JSON body of `bytes` bytes. */
export async function startCeilingServer(bytes: number): Promise<BaselineServer> {
  const child = spawn(process.execPath, [CEILING_SERVER, String(bytes)], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the ceiling server did not start")), START_TIMEOUT_MS);
    child.once("exit", (code) => reject(new Error(`the ceiling server exited with code ${code}`)));
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  return { url, ...DUMMY, stop: stopper(child) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

/**
 * Starts `moto_server` (the KMS emulator users would otherwise pick) on a free loopback port and
 * resolves once it answers HTTP. Its request log is discarded: written to a pipe, it would cost the
 * bench's own process CPU while moto is under load.
 */
export async function startMotoServer(): Promise<BaselineServer> {
  const port = await freePort();
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`moto_server exited with code ${code} before answering`)));
  });
  const ready = (async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        await fetch(`${url}/moto-api/`);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    throw new Error(`moto_server did not answer within ${START_TIMEOUT_MS / 1000} s`);
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }
  exited.catch(() => {});
  return { url, ...DUMMY, stop: stopper(child) };
}
