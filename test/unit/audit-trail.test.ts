import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pino from "pino";
import { type ChainReport, ChainVerifier } from "../../src/audit/audit-chain.js";
import { AuditLog, type AuditLogOptions } from "../../src/audit/audit-log.js";
import type { AnsweredRequest } from "../../src/audit/audit-sink.js";
import { AuditTrail } from "../../src/audit/audit-trail.js";
import { KeyUsageTracker } from "../../src/audit/key-usage.js";
import { KmsError } from "../../src/domain/errors.js";
import { auditView } from "../../src/protocol/aws/audit-parameters.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trent-audit-"));
  dirs.push(dir);
  return dir;
}

const SEAL_KEY = randomBytes(32);

function options(overrides: Partial<AuditLogOptions> = {}): AuditLogOptions {
  return {
    sealKey: SEAL_KEY,
    fsync: "always",
    sealIntervalMs: 60_000,
    maxFileBytes: 1024 * 1024 * 1024,
    now: () => new Date(),
    ...overrides,
  };
}

function verify(lines: readonly string[], sealKey = SEAL_KEY): ChainReport {
  const verifier = new ChainVerifier(sealKey);
  for (const [index, line] of lines.entries()) verifier.push("audit.log", index + 1, line);
  return verifier.report();
}

function linesOf(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "");
}

/** Writes `count` records and closes the log (which seals it); returns the file's lines. */
async function writtenChain(count: number, file = join(tempDir(), "audit.log")): Promise<string[]> {
  const { log } = AuditLog.openFile(file, options());
  await Promise.all(Array.from({ length: count }, (_, i) => log.append({ eventName: "Encrypt", n: i })));
  await log.close();
  return linesOf(file);
}

describe("the audit chain", () => {
  test("records concurrent appends in one unbroken, sealed chain", async () => {
    const lines = await writtenChain(50);
    assert.equal(lines.length, 51);
    const report = verify(lines);
    assert.equal(report.problem, null);
    assert.equal(report.records, 50);
    assert.equal(report.seals, 1);
    assert.equal(report.unsealed, 0);
    // Appends keep their order, each line naming its place.
    assert.deepEqual(
      lines.slice(0, 50).map((line) => JSON.parse(line).n),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test("finds an edited, a deleted and a reordered record, and names where", async () => {
    const lines = await writtenChain(10);
    const edited = [...lines];
    edited[4] = (edited[4] as string).replace('"Encrypt"', '"Decrypt"');
    assert.deepEqual(pick(verify(edited)), { kind: "altered", line: 5 });

    const deleted = lines.filter((_, index) => index !== 6);
    assert.deepEqual(pick(verify(deleted)), { kind: "missing", line: 7 });

    const reordered = [...lines];
    [reordered[2], reordered[3]] = [reordered[3] as string, reordered[2] as string];
    assert.deepEqual(pick(verify(reordered)), { kind: "missing", line: 3 });

    const repeated = [...lines.slice(0, 5), lines[3] as string, ...lines.slice(5)];
    assert.deepEqual(pick(verify(repeated)), { kind: "reordered", line: 6 });

    const cut = [...lines];
    cut[8] = (cut[8] as string).slice(0, 40);
    assert.deepEqual(pick(verify(cut)), { kind: "malformed", line: 9 });
  });

  test("a rewritten chain with recomputed hashes fails at the seal; so does a wrong root", async () => {
    const lines = await writtenChain(5);
    // The attacker edits a record and recomputes every hash after it: only the seal's MAC catches it.
    const rewritten: string[] = [];
    let previous: string | null = null;
    for (const [index, line] of lines.entries()) {
      const record = JSON.parse(line);
      if (index === 1) record.eventName = "Decrypt";
      if (previous !== null) record.additionalEventData.previousHash = previous;
      const text = JSON.stringify(record);
      rewritten.push(text);
      previous = (await import("node:crypto")).createHash("sha256").update(text).digest("hex");
    }
    assert.deepEqual(pick(verify(rewritten)), { kind: "forged-seal", line: 6 });
    assert.deepEqual(pick(verify(lines, randomBytes(32))), { kind: "forged-seal", line: 6 });
  });

  test("a line cut short by a crash is removed at the next start, and the chain continues", async () => {
    const file = join(tempDir(), "audit.log");
    await writtenChain(3, file);
    appendFileSync(file, '{"eventVersion":"1.08","eventName":"Enc');
    const { log, repairedBytes } = AuditLog.openFile(file, options());
    assert.equal(repairedBytes, '{"eventVersion":"1.08","eventName":"Enc'.length);
    await log.append({ eventName: "Decrypt" });
    await log.close();
    const report = verify(linesOf(file));
    assert.equal(report.problem, null);
    assert.equal(report.records, 4);
    assert.equal(report.seals, 2);
  });

  test("a full file is sealed and set aside; the chain runs on across the files", async () => {
    const dir = tempDir();
    const file = join(dir, "audit.log");
    const { log } = AuditLog.openFile(file, options({ maxFileBytes: 2000 }));
    for (let i = 0; i < 40; i++) await log.append({ eventName: "GenerateDataKey", padding: "x".repeat(100), n: i });
    await log.close();
    const files = readdirSync(dir).sort();
    assert.ok(files.length > 2, `expected rotated files, got ${files}`);
    assert.equal(files.at(-1), "audit.log");
    const verifier = new ChainVerifier(SEAL_KEY);
    for (const name of files) {
      const lines = linesOf(join(dir, name));
      if (name !== "audit.log") assert.match(JSON.parse(lines.at(-1) as string).eventName, /SealAuditChain/);
      for (const [index, line] of lines.entries()) verifier.push(name, index + 1, line);
    }
    const report = verifier.report();
    assert.equal(report.problem, null);
    assert.equal(report.records, 40);
    // Dropping a middle file is caught.
    const skipping = new ChainVerifier(SEAL_KEY);
    for (const name of files.filter((_, index) => index !== 1)) {
      for (const [index, line] of linesOf(join(dir, name)).entries()) skipping.push(name, index + 1, line);
    }
    assert.equal(skipping.report().problem?.kind, "missing");
  });

  test("a group that cannot be written fails its requests; the chain goes on unbroken after it", async () => {
    const dir = tempDir();
    const sink = join(dir, "sink");
    writeFileSync(sink, "");
    const readOnly = openSync(sink, "r");
    const failing = AuditLog.toDescriptor(readOnly, options({ fsync: "never" }));
    await assert.rejects(failing.append({ eventName: "Encrypt" }));
    closeSync(readOnly);

    const file = join(dir, "audit.log");
    const { log } = AuditLog.openFile(file, options());
    await log.append({ eventName: "Encrypt" });
    await log.close();
    assert.equal(verify(linesOf(file)).problem, null);
  });
});

describe("the audit trail", () => {
  const answered = (overrides: Partial<AnsweredRequest> = {}): AnsweredRequest => ({
    edge: "aws",
    requestId: "req-1",
    operation: "Encrypt",
    caller: {
      region: "eu-west-1",
      principalArn: "arn:aws:iam::111122223333:user/alice",
      principalId: "AIDAALICE",
      accountId: "111122223333",
      accessKeyId: "AKIAALICE",
    },
    remoteAddress: "10.1.2.3",
    userAgent: "test",
    resources: ["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
    requestParameters: { keyId: "alias/x" },
    responseElements: null,
    error: null,
    ...overrides,
  });

  test("writes CloudTrail-shaped records and fails the request when a record cannot be written", async () => {
    const dir = tempDir();
    const store = new SqliteKeyStore(join(dir, "trent.db"));
    const file = join(dir, "audit.log");
    const { log } = AuditLog.openFile(file, options());
    const logger = pino({ level: "silent" });
    const keyUsage = new KeyUsageTracker(store, () => new Date());
    const trail = new AuditTrail({
      logs: [log],
      correlationKey: randomBytes(32),
      required: true,
      keyUsage,
      logger,
      now: () => new Date("2026-11-25T10:00:00.123Z"),
    });
    await trail.record(answered());
    await trail.record(answered({ operation: "CreateKey", error: { code: "AccessDeniedException", message: "no" } }));
    const usage = await keyUsage.lastUsage("1234abcd-12ab-34cd-56ef-1234567890ab");
    await trail.close();
    const [first, second] = linesOf(file).map((line) => JSON.parse(line));
    assert.equal(first.eventTime, "2026-11-25T10:00:00Z");
    assert.equal(first.eventSource, "kms.amazonaws.com");
    assert.deepEqual(first.userIdentity, {
      type: "IAMUser",
      principalId: "AIDAALICE",
      arn: "arn:aws:iam::111122223333:user/alice",
      accountId: "111122223333",
      accessKeyId: "AKIAALICE",
    });
    assert.equal(first.awsRegion, "eu-west-1");
    assert.equal(first.readOnly, true);
    assert.equal(first.errorCode, undefined);
    assert.deepEqual(first.resources[0].type, "AWS::KMS::Key");
    assert.equal(second.readOnly, false);
    assert.equal(second.errorCode, "AccessDeniedException");
    // The usage of the Encrypt was noted; the failed CreateKey's was not.
    assert.equal(usage?.eventId, first.eventID);
    assert.equal(usage?.operation, "Encrypt");

    const dead = join(dir, "dead");
    writeFileSync(dead, "");
    const readOnly = openSync(dead, "r");
    const failing = (required: boolean) =>
      new AuditTrail({
        logs: [AuditLog.toDescriptor(readOnly, options({ fsync: "never" }))],
        correlationKey: randomBytes(32),
        required,
        keyUsage,
        logger,
        now: () => new Date(),
      });
    await assert.rejects(failing(true).record(answered()), (error: unknown) => {
      assert.ok(error instanceof KmsError);
      assert.equal(error.code, "KMSInternalException");
      return true;
    });
    await failing(false).record(answered());
    closeSync(readOnly);
    await store.close();
  });

  test("requests and responses are redacted along the service model", () => {
    const hash = (value: Uint8Array | string) => `h(${Buffer.from(value).toString("hex")})`;
    const request = auditView(
      "GenerateDataKeyRequest",
      {
        KeyId: "alias/app",
        KeySpec: "AES_256",
        EncryptionContext: { Tenant: "a" },
        GrantTokens: ["token"],
        Recipient: { AttestationDocument: Buffer.from("doc"), KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_256" },
      },
      hash,
    );
    assert.deepEqual(request, {
      keyId: "alias/app",
      keySpec: "AES_256",
      encryptionContext: { Tenant: "a" },
      grantTokens: [`h(${Buffer.from("token").toString("hex")})`],
      recipient: { keyEncryptionAlgorithm: "RSAES_OAEP_SHA_256" },
    });
    const response = auditView(
      "GenerateDataKeyResponse",
      { KeyId: "arn", Plaintext: Buffer.from([1, 2]), CiphertextBlob: Buffer.from([3]), KeyMaterialId: "m" },
      hash,
    );
    assert.deepEqual(response, { keyId: "arn", ciphertextBlob: "h(03)", keyMaterialId: "m" });
    assert.deepEqual(
      auditView("SignRequest", { KeyId: "k", Message: Buffer.from("m"), SigningAlgorithm: "ECDSA_SHA_256" }, hash),
      { keyId: "k", signingAlgorithm: "ECDSA_SHA_256" },
    );
    assert.deepEqual(auditView("GenerateMacResponse", { Mac: Buffer.from("mac"), KeyId: "k" }, hash), { keyId: "k" });
    assert.deepEqual(
      auditView(
        "GenerateDataKeyPairResponse",
        {
          PrivateKeyCiphertextBlob: Buffer.from([9]),
          PrivateKeyPlaintext: Buffer.from([8]),
          PublicKey: Buffer.from([7]),
          KeyPairSpec: "RSA_2048",
        },
        hash,
      ),
      { privateKeyCiphertextBlob: "h(09)", keyPairSpec: "RSA_2048" },
    );
  });
});

function pick(report: ChainReport): { kind: string; line: number } | null {
  return report.problem === null ? null : { kind: report.problem.kind, line: report.problem.line };
}
