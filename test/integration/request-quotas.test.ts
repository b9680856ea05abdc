import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  CreateKeyCommand,
  EncryptCommand,
  GenerateRandomCommand,
  KMSClient,
  KMSServiceException,
  ListKeysCommand,
  SignCommand,
} from "@aws-sdk/client-kms";
import { DkmsClient } from "../support/dkms-client.js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * Request-rate quotas on a real Trent, with a quota file small enough to exceed in a test: the
 * JavaScript SDK (retries off) gets AWS's ThrottlingException, other classes and key types keep
 * their own quotas, and the Alibaba edge answers the same account's throttling with 429.
 */
let trent: TrentProcess;
let kms: KMSClient;
let quotaDir: string;

before(async () => {
  quotaDir = mkdtempSync(join(tmpdir(), "trent-quotas-"));
  const quotaFile = join(quotaDir, "quotas.json");
  writeFileSync(
    quotaFile,
    JSON.stringify({ rates: { CreateKey: 2, "Cryptographic operations (symmetric)": 3 } }, null, 2),
  );
  trent = await startTrentProcess(["--listen-tls", "127.0.0.1:0"], { quotas: quotaFile });
  kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
});

after(async () => {
  kms?.destroy();
  await trent?.stop();
  rmSync(quotaDir, { recursive: true, force: true });
});

/** Sends `count` requests at once; how many were admitted, and every refusal's code, status and message. */
async function burst(count: number, send: () => Promise<unknown>) {
  const started = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: count }, send));
  const refusals = settled.flatMap((outcome) => {
    if (outcome.status === "fulfilled") return [];
    const error = outcome.reason as KMSServiceException;
    assert.ok(error instanceof KMSServiceException, String(error));
    return [`${error.name} ${error.$metadata.httpStatusCode} ${error.message}`];
  });
  return { admitted: count - refusals.length, refusals, seconds: (performance.now() - started) / 1000 };
}

const THROTTLED =
  "ThrottlingException 400 You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

test("a burst over a quota gets ThrottlingException, while the account's other classes and key types go on", async () => {
  const keys = await burst(6, () =>
    kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" })),
  );
  // Two at once, and whatever refilled (2 per second) while the burst was on its way.
  assert.ok(keys.admitted >= 1 && keys.admitted <= 2 + Math.floor(keys.seconds * 2), JSON.stringify(keys));
  assert.deepEqual(keys.refusals, Array(6 - keys.admitted).fill(THROTTLED));
  await kms.send(new ListKeysCommand({ Limit: 1 }));

  await new Promise((resolve) => setTimeout(resolve, 600)); // one CreateKey token back
  const symmetricKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
  const signingKey = (await kms.send(new ListKeysCommand({}))).Keys?.find((key) => key.KeyId !== symmetricKey)
    ?.KeyId as string;
  const encrypt = () => kms.send(new EncryptCommand({ KeyId: symmetricKey, Plaintext: Buffer.from("x") }));
  const encrypted = await burst(8, encrypt);
  assert.ok(encrypted.admitted >= 1 && encrypted.admitted <= 3 + Math.floor(encrypted.seconds * 3));
  assert.deepEqual(encrypted.refusals, Array(8 - encrypted.admitted).fill(THROTTLED));
  // An ECC key's uses count against the ECC quota, untouched by the symmetric burst.
  const signed = await burst(5, () =>
    kms.send(new SignCommand({ KeyId: signingKey, Message: Buffer.from("m"), SigningAlgorithm: "ECDSA_SHA_256" })),
  );
  assert.deepEqual(signed.refusals, []);
});

test("the Alibaba edge answers the same account's throttling with 429 Rejected.Throttling", async () => {
  const dkms = new DkmsClient(
    trent.tlsUrl as string,
    readFileSync(join(trent.dataDir, "ca.pem"), "utf8"),
    join(trent.dataDir, "alibaba-client-key.json"),
    readFileSync(join(trent.dataDir, "alibaba-client-key.password"), "utf8").trim(),
  );
  // GenerateRandom counts against the account's symmetric quota on both edges; the AWS edge drains it.
  const drained = await burst(8, () => kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 })));
  assert.ok(drained.refusals.length > 0);
  const replies = await Promise.all(Array.from({ length: 4 }, () => dkms.call("GenerateRandom", { Length: 16 })));
  const throttled = replies.filter((reply) => reply.status === 429);
  assert.ok(throttled.length >= 2, JSON.stringify(replies.map((reply) => reply.status)));
  for (const reply of throttled) assert.equal(reply.message.ErrorCode, "Rejected.Throttling");
  for (const reply of replies.filter((r) => r.status !== 429)) assert.equal(reply.status, 200);
});
