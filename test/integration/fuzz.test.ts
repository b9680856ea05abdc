import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { Fuzzer, FuzzServer, formatReport, runFuzz } from "../support/fuzz-run.js";

/**
 * The short fuzzing mode: mutated requests, re-signed so the mutations reach the operations,
 * against a live `trent serve` on both edges. Each run draws a new seed and prints it;
 * TRENT_FUZZ_SEED repeats a run, TRENT_FUZZ_REPLAY=seed:path replays the one counterexample a
 * failure printed, and TRENT_FUZZ_REQUESTS changes the length. The long mode is bench/fuzz.ts.
 */
const SEED = Number(process.env.TRENT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = Number(process.env.TRENT_FUZZ_REQUESTS ?? 10_000);
/**
 * The run stops generating after this long, so that a busy machine still keeps the suite's time:
 * the suite runs this file once per store, about half a minute each.
 */
const TIME_LIMIT_MS = Number(process.env.TRENT_FUZZ_TIME_LIMIT_MS ?? 20_000);
const MB = 1024 * 1024;

let server: FuzzServer;
let fuzzer: Fuzzer;

before(async () => {
  server = await FuzzServer.start();
  fuzzer = await Fuzzer.create(server);
});

after(async () => {
  await server?.stop();
});

test(`mutated requests get 4xx KMS errors or valid answers, never a 5xx, hang or crash (seed ${SEED})`, async (t) => {
  const report = await runFuzz(server, fuzzer, {
    seed: SEED,
    requests: REQUESTS,
    concurrency: 4,
    timeoutMs: 15_000,
    mode: "assert",
    timeLimitMs: TIME_LIMIT_MS,
    ...(process.env.TRENT_FUZZ_REPLAY === undefined ? {} : { replay: process.env.TRENT_FUZZ_REPLAY }),
  });
  t.diagnostic(`seed ${SEED}\n${formatReport(report, server)}`);
  assert.deepEqual(report.failures, [], `repeat with TRENT_FUZZ_SEED=${SEED}`);
  assert.deepEqual(server.exits, [], "the server never exited");
  // An unexpected exception is logged at error level even when the client saw a 4xx.
  assert.deepEqual(server.errorLogs, [], "the server logged no unexpected failure");
  if (process.env.TRENT_FUZZ_REPLAY !== undefined) return;

  const { stats } = report;
  // Evidence that the requests reach the operations: valid ones succeed on both edges across
  // most operations, and mutated ones fail in the operations, not only at authentication.
  // A floor, not a speed: the time limit may cut the run short on a loaded machine.
  assert.ok(stats.requests >= Math.min(REQUESTS, 500), `only ${stats.requests} requests ran`);
  const succeeded = [...stats.successes.keys()];
  assert.ok(succeeded.filter((name) => name.startsWith("aws:")).length >= 20, succeeded.join(" "));
  assert.ok(succeeded.filter((name) => name.startsWith("alibaba:")).length >= 5, succeeded.join(" "));
  for (const code of [
    "ValidationException",
    "SerializationException",
    "InvalidSignatureException",
    "InvalidCiphertextException",
    "NotFoundException",
    "alibaba:InvalidParam",
  ]) {
    assert.ok(stats.byCode.has(code), `no ${code} among ${[...stats.byCode.keys()].join(" ")}`);
  }
  // Memory stays bounded: the bodies go up to 3 MB, but nothing they leave behind accumulates.
  assert.ok(
    report.rss.peakBytes < report.rss.startBytes + 400 * MB,
    `server RSS rose from ${report.rss.startBytes / MB} MB to ${report.rss.peakBytes / MB} MB`,
  );

  // And it still serves a real client afterwards.
  const trent = server.trent;
  const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials });
  try {
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const sealed = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("after the fuzz") }));
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
    assert.equal(Buffer.from(opened.Plaintext as Uint8Array).toString(), "after the fuzz");
  } finally {
    kms.destroy();
  }
});
