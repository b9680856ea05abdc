import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Agent } from "node:http";
import { after, before, describe, test } from "node:test";
import {
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  KMSClient,
  PutKeyPolicyCommand,
} from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * `trent serve --workers 2`: two processes behind one port. Every request here goes on a new
 * connection, and Node's cluster hands new connections to the workers in turn, so a run of
 * requests reaches both workers; the cache of each is warmed before the change under test.
 */
let trent: TrentProcess;
let kms: KMSClient;
const PROBES = 12;

function workerPids(): number[] {
  const out = execFileSync("ps", ["-o", "pid=", "--ppid", String(trent.process.pid)], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
}

/** The outcome of PROBES Encrypt calls, each on its own connection. */
async function encryptOutcomes(keyId: string): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < PROBES; i++) {
    try {
      await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("probe") }));
      outcomes.push("success");
    } catch (error) {
      outcomes.push((error as Error).name);
    }
  }
  return outcomes;
}

before(async () => {
  trent = await startTrentProcess(["--workers", "2"]);
  kms = new KMSClient({
    endpoint: trent.url,
    region: trent.region,
    credentials: trent.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }), requestTimeout: 10_000 }),
  });
});

after(async () => {
  kms?.destroy();
  await trent?.stop();
});

describe("several worker processes on one node", () => {
  test("the primary runs two workers", () => {
    assert.equal(workerPids().length, 2);
  });

  test("a disabled key stops working in every worker at once, and works again once enabled", async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId as string;
    assert.deepEqual(await encryptOutcomes(keyId), Array(PROBES).fill("success"));
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    assert.deepEqual(await encryptOutcomes(keyId), Array(PROBES).fill("DisabledException"));
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    assert.deepEqual(await encryptOutcomes(keyId), Array(PROBES).fill("success"));
  });

  test("a changed key policy applies in every worker at once", async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId as string;
    assert.deepEqual(await encryptOutcomes(keyId), Array(PROBES).fill("success"));
    const policy = {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "Account",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${trent.accountId}:root` },
          Action: "kms:*",
          Resource: "*",
        },
        { Sid: "NoEncrypt", Effect: "Deny", Principal: { AWS: "*" }, Action: "kms:Encrypt", Resource: "*" },
      ],
    };
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: JSON.stringify(policy) }));
    assert.deepEqual(await encryptOutcomes(keyId), Array(PROBES).fill("AccessDeniedException"));
  });

  test("a worker that dies is replaced, and the node keeps serving", async () => {
    const [victim] = workerPids();
    process.kill(victim as number, "SIGKILL");
    const deadline = Date.now() + 20_000;
    while (!(workerPids().length === 2 && !workerPids().includes(victim as number))) {
      assert.ok(Date.now() < deadline, "no replacement worker within 20 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Sent while the replacement may still be starting: a write must not wait on a worker that
    // cannot hear of it yet.
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    assert.deepEqual(await encryptOutcomes(KeyMetadata?.KeyId as string), Array(PROBES).fill("success"));
  });

  test("SIGTERM stops the primary and every worker", async () => {
    const pids = workerPids();
    const exited = new Promise<number | null>((resolve) => trent.process.once("exit", resolve));
    trent.process.kill("SIGTERM");
    assert.equal(await exited, 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), "a worker outlived the primary");
  });
});
