import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CreateKeyCommand, DescribeKeyCommand, KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createDatabase, dropDatabase, startTrentProcess, type TrentProcess, testStore } from "./trent-process.js";

/**
 * SIGTERM: requests in flight are answered, new connections are refused, idle kept-alive
 * connections do not hold the process, it exits 0, and the next start on the same data works.
 */

/** A data directory (and, on PostgreSQL, a database) that outlives one Trent process. */
async function lastingData(): Promise<{ dataDir: string; storeArgs: string[]; remove(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "trent-stop-"));
  const store = testStore();
  const database = store.kind === "postgres" ? await createDatabase(store.serverUrl) : undefined;
  return {
    dataDir,
    storeArgs: database === undefined ? [] : ["--store", database],
    async remove() {
      if (database !== undefined) await dropDatabase(database);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function kmsClient(trent: TrentProcess, keepAlive: boolean): KMSClient {
  return new KMSClient({
    endpoint: trent.url,
    region: trent.region,
    credentials: trent.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive }), requestTimeout: 120_000 }),
  });
}

function exitOf(trent: TrentProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  return new Promise((resolve) => {
    trent.process.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
}

/** Whether a new TCP connection to the listener is refused. */
function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** Slow requests (RSA 4096 key generation takes a while), each answered after the SIGTERM. */
function slowCreates(kms: KMSClient, count: number) {
  return Array.from({ length: count }, () =>
    kms
      .send(new CreateKeyCommand({ KeySpec: "RSA_4096", KeyUsage: "SIGN_VERIFY" }))
      .then((out) => ({ keyId: out.KeyMetadata?.KeyId as string, at: Date.now() })),
  );
}

async function sigtermWithRequestsInFlight(extraArgs: string[]): Promise<void> {
  const data = await lastingData();
  try {
    const trent = await startTrentProcess(
      [...data.storeArgs, ...extraArgs, "--drain-timeout", "120", "--keep-alive-timeout", "60"],
      { dataDir: data.dataDir },
    );
    let stdout = "";
    trent.process.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    const kept = kmsClient(trent, true);
    const fresh = kmsClient(trent, false);
    // A kept-alive connection, idle from now on: it must not hold the stop until it times out.
    await kept.send(new ListKeysCommand({}));
    const inFlight = [...slowCreates(kept, 1), ...slowCreates(fresh, 3)];
    await new Promise((resolve) => setTimeout(resolve, 400));
    const exited = exitOf(trent);
    const signalledAt = Date.now();
    trent.process.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await connectionRefused(trent.url), true, "a new connection after SIGTERM is refused");
    const answered = await Promise.all(inFlight);
    const { code, signal, at } = await exited;
    kept.destroy();
    fresh.destroy();
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.ok(
      answered.some((response) => response.at > signalledAt),
      "some requests were still in flight when SIGTERM arrived",
    );
    const lastAnswer = Math.max(...answered.map((response) => response.at));
    assert.ok(at - lastAnswer < 5_000, `exited ${at - lastAnswer} ms after the last answer`);
    assert.doesNotMatch(stdout, /starting another/);

    const again = await startTrentProcess(data.storeArgs, { dataDir: data.dataDir });
    const kms = kmsClient(again, false);
    try {
      for (const { keyId } of answered) {
        const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
        assert.equal(KeyMetadata?.KeySpec, "RSA_4096");
      }
    } finally {
      kms.destroy();
      await again.stop();
    }
  } finally {
    await data.remove();
  }
}

describe("stopping with SIGTERM", { timeout: 180_000 }, () => {
  test("one process answers every request in flight, refuses new connections, exits 0, and starts again", () =>
    sigtermWithRequestsInFlight([]));

  test("with --workers 2, every worker drains, none is started again, and the primary exits 0", () =>
    sigtermWithRequestsInFlight(["--workers", "2"]));

  test("a request still unanswered at the drain deadline is cut off, and the exit code says so", async () => {
    const data = await lastingData();
    try {
      const trent = await startTrentProcess([...data.storeArgs, "--drain-timeout", "1", "--body-timeout", "120"], {
        dataDir: data.dataDir,
      });
      // Headers sent, the body never finished: the request stays in flight until the deadline.
      const { hostname, port } = new URL(trent.url);
      const stalled = connect(Number(port), hostname);
      await once(stalled, "connect");
      stalled.write("POST / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{");
      stalled.on("error", () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exited = exitOf(trent);
      const signalledAt = Date.now();
      trent.process.kill("SIGTERM");
      const { code, at } = await exited;
      stalled.destroy();
      assert.equal(code, 1);
      assert.ok(at - signalledAt < 10_000, `exited ${at - signalledAt} ms after SIGTERM`);
      const again = await startTrentProcess(data.storeArgs, { dataDir: data.dataDir });
      await again.stop();
    } finally {
      await data.remove();
    }
  });
});
