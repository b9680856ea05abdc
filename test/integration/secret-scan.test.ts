import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  EncryptCommand,
  type EncryptCommandInput,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateRandomCommand,
  KMSClient,
  ReEncryptCommand,
} from "@aws-sdk/client-kms";
import pg from "pg";
import { DATA_KEY_PAIR_SPECS } from "../../src/crypto/data-key-pair-spec.js";
import { envWithoutTrentSettings, TRENT_CLI, trentCli } from "./trent-cli.js";
import { createDatabase, dropDatabase, testStore } from "./trent-process.js";

// Every secret Trent hands out must leave no trace in what it writes: database and journal, logs
// (at debug level), audit trail, backups. The scanner looks for each secret's bytes in every file
// under the data directory, raw and in the text forms a careless log line or column would take.

interface Secret {
  readonly name: string;
  readonly bytes: Buffer;
}

interface Needle {
  readonly encoding: string;
  readonly bytes: Buffer;
  /** A text form, also looked for with line breaks taken out (PEM bodies, wrapped or JSON-escaped text). */
  readonly text: boolean;
}

interface Finding {
  readonly where: string;
  readonly secret: string;
  readonly encoding: string;
}

/**
 * The forms a secret could take. Base64 depends on where the secret starts within a longer
 * encoded value, so for each of the three alignments the part of it that is encoded the same
 * whatever surrounds it is a needle.
 */
function needlesFor(secret: Buffer): Needle[] {
  const needles: Needle[] = [
    { encoding: "raw", bytes: secret, text: false },
    { encoding: "hex", bytes: Buffer.from(secret.toString("hex")), text: true },
    { encoding: "HEX", bytes: Buffer.from(secret.toString("hex").toUpperCase()), text: true },
  ];
  for (let offset = 0; offset < 3; offset++) {
    const aligned = secret.subarray(offset, offset + 3 * Math.floor((secret.length - offset) / 3));
    for (const encoding of ["base64", "base64url"] as const) {
      needles.push({ encoding: `${encoding}@${offset}`, bytes: Buffer.from(aligned.toString(encoding)), text: true });
    }
  }
  return needles;
}

/** The content without whitespace and JSON's \n and \r escapes; latin1 keeps every byte as one char. */
function withoutLineBreaks(content: Buffer): Buffer {
  return Buffer.from(content.toString("latin1").replace(/\\[nr]|\s/g, ""), "latin1");
}

function scanContent(where: string, content: Buffer, secrets: readonly Secret[]): Finding[] {
  const squeezed = withoutLineBreaks(content);
  const findings: Finding[] = [];
  for (const secret of secrets) {
    for (const needle of needlesFor(secret.bytes)) {
      if (content.includes(needle.bytes) || (needle.text && squeezed.includes(needle.bytes))) {
        findings.push({ where, secret: secret.name, encoding: needle.encoding });
      }
    }
  }
  return findings;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

function scanDirectory(dir: string, secrets: readonly Secret[]): { files: string[]; findings: Finding[] } {
  const files = filesUnder(dir);
  return { files, findings: files.flatMap((file) => scanContent(file, readFileSync(file), secrets)) };
}

/** Every row of every table of a PostgreSQL database as text (bytea as \x hex). */
async function dumpDatabase(url: string): Promise<Buffer> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
    );
    const lines: string[] = [];
    for (const { table_name } of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" AS t`);
      lines.push(`-- ${table_name}`, ...rows.map((row) => row.row));
    }
    return Buffer.from(lines.join("\n"));
  } finally {
    await client.end();
  }
}

describe("the scanner", () => {
  test("finds a secret planted in each form, anywhere in a directory tree, and nothing where there is none", () => {
    const dir = mkdtempSync(join(tmpdir(), "trent-scan-self-check-"));
    try {
      const secret = { name: "planted", bytes: randomBytes(48) };
      const noise = (length: number) => randomBytes(length);
      const inBase64 = (prefix: number, encoding: "base64" | "base64url") =>
        Buffer.concat([noise(prefix), secret.bytes, noise(7)]).toString(encoding);
      const pem = (text: string) => text.replace(/.{1,64}/g, "$&\n");
      const planted: Record<string, [string | Buffer, string]> = {
        "raw.bin": [Buffer.concat([noise(100), secret.bytes, noise(100)]), "raw"],
        "b64-0.log": [`{"x":"${inBase64(30, "base64")}"}`, "base64@0"],
        "b64-1.log": [inBase64(31, "base64"), "base64@2"],
        "b64-2.log": [inBase64(32, "base64"), "base64@1"],
        "b64url.log": [inBase64(33, "base64url"), "base64url@0"],
        "pem.json": [JSON.stringify({ key: pem(inBase64(3, "base64")) }), "base64@0"],
        "hex.txt": [`value=${secret.bytes.toString("hex")}`, "hex"],
        "HEX.txt": [`VALUE=${secret.bytes.toString("hex").toUpperCase()}`, "HEX"],
      };
      mkdirSync(join(dir, "nested", "deeper"), { recursive: true });
      for (const [name, [content]] of Object.entries(planted))
        writeFileSync(join(dir, "nested", "deeper", name), content);
      writeFileSync(join(dir, "clean.log"), Buffer.concat([noise(4096), Buffer.from(noise(4096).toString("base64"))]));

      const { files, findings } = scanDirectory(dir, [secret]);
      assert.equal(files.length, Object.keys(planted).length + 1);
      for (const [name, [, encoding]] of Object.entries(planted)) {
        const where = join(dir, "nested", "deeper", name);
        assert.ok(
          findings.some((finding) => finding.where === where && finding.encoding === encoding),
          `${name}: not found as ${encoding} (found ${JSON.stringify(findings.filter((f) => f.where === where))})`,
        );
      }
      assert.deepEqual(
        findings.filter((finding) => finding.where.endsWith("clean.log")),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("secrets Trent hands out are nowhere in what it writes", () => {
  const store = testStore();
  let dataDir: string;
  let storeUrl: string | undefined;
  let trent: ChildProcess;
  let kms: KMSClient;
  const secrets: Secret[] = [];
  /** Not secret: written to the store on purpose, so the scan can show it reads the store. */
  const marker = `scan-marker-${randomBytes(8).toString("hex")}`;
  let adminSecret: string;
  let whileRunning: Finding[];
  let dumped: Buffer | undefined;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trent-scan-"));
    storeUrl = store.kind === "postgres" ? await createDatabase(store.serverUrl) : undefined;
    const storeArgs = storeUrl === undefined ? [] : ["--store", storeUrl];
    const stdout = openSync(join(dataDir, "trent.stdout.log"), "a", 0o600);
    const stderr = openSync(join(dataDir, "trent.stderr.log"), "a", 0o600);
    const serve = ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, "--key-pair-pool", "0"];
    trent = spawn(process.execPath, [TRENT_CLI, ...serve, "--log-level", "debug", "--quotas", "off", ...storeArgs], {
      stdio: ["ignore", stdout, stderr],
      env: envWithoutTrentSettings(),
    });
    closeSync(stdout);
    closeSync(stderr);
    const url = await listeningUrl(trent, join(dataDir, "trent.stdout.log"));
    const credentials = readFileSync(join(dataDir, "credentials"), "utf8");
    const field = (name: string) => (new RegExp(`^${name} = (.+)$`, "m").exec(credentials)?.[1] ?? "").trim();
    adminSecret = field("aws_secret_access_key");
    kms = new KMSClient({
      endpoint: url,
      region: field("region"),
      credentials: { accessKeyId: field("aws_access_key_id"), secretAccessKey: adminSecret },
      maxAttempts: 1,
    });

    const createKey = async (input: CreateKeyCommandInput) =>
      (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId as string;
    const keyId = await createKey({ Description: marker });
    const otherKeyId = await createKey({});
    const rsaKeyId = await createKey({ KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT" });
    const keep = (name: string, bytes: Uint8Array | undefined) => {
      assert.ok(bytes && bytes.length >= 16, name);
      secrets.push({ name, bytes: Buffer.from(bytes) });
    };

    for (const size of [{ KeySpec: "AES_256" }, { KeySpec: "AES_128" }, { NumberOfBytes: 64 }] as const) {
      const dataKey = await kms.send(
        new GenerateDataKeyCommand({ KeyId: keyId, EncryptionContext: { purpose: "scan" }, ...size }),
      );
      keep(`GenerateDataKey ${JSON.stringify(size)}`, dataKey.Plaintext);
      await kms.send(
        new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: { purpose: "scan" } }),
      );
      await kms.send(
        new ReEncryptCommand({
          CiphertextBlob: dataKey.CiphertextBlob,
          SourceEncryptionContext: { purpose: "scan" },
          DestinationKeyId: otherKeyId,
        }),
      );
    }
    for (const spec of DATA_KEY_PAIR_SPECS) {
      const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: spec }));
      keep(`GenerateDataKeyPair ${spec} private key`, pair.PrivateKeyPlaintext);
      await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob }));
    }
    for (const NumberOfBytes of [16, 32, 1024]) {
      keep(`GenerateRandom ${NumberOfBytes}`, (await kms.send(new GenerateRandomCommand({ NumberOfBytes }))).Plaintext);
    }
    const plaintext = randomBytes(40);
    keep("Encrypt plaintext", plaintext);
    const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).CiphertextBlob;
    await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    // Refused requests too: their plaintext must not reach an error log either.
    const refusals: Array<[string, Omit<EncryptCommandInput, "Plaintext">]> = [
      ["Encrypt to an unknown key", { KeyId: "alias/no-such-key" }],
      ["Encrypt with a bad grant token", { KeyId: keyId, GrantTokens: ["x".repeat(9000)] }],
    ];
    for (const [name, input] of refusals) {
      const refused = randomBytes(40);
      keep(`${name}: plaintext`, refused);
      await assert.rejects(kms.send(new EncryptCommand({ ...input, Plaintext: refused })));
    }
    const rsaPlaintext = randomBytes(32);
    keep("Encrypt RSA plaintext", rsaPlaintext);
    const rsaBlob = (
      await kms.send(
        new EncryptCommand({ KeyId: rsaKeyId, Plaintext: rsaPlaintext, EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }),
      )
    ).CiphertextBlob;
    await kms.send(
      new DecryptCommand({ KeyId: rsaKeyId, CiphertextBlob: rsaBlob, EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }),
    );

    const backup = await trentCli([
      "backup",
      "--data",
      dataDir,
      ...storeArgs,
      "--out",
      join(dataDir, "backups", "scan.backup"),
    ]);
    assert.equal(backup.code, 0, backup.stderr);
    // While Trent runs, SQLite's write-ahead log holds the latest writes; it is folded in at stop.
    whileRunning = scanDirectory(dataDir, secrets).findings;
    await stop(trent);
    if (storeUrl !== undefined) dumped = await dumpDatabase(storeUrl);
  });

  after(async () => {
    kms?.destroy();
    if (trent) await stop(trent);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (storeUrl !== undefined) await dropDatabase(storeUrl);
  });

  test("the scan covers the store, logs, audit trail and backup, and sees what is in them", () => {
    const { files, findings } = scanDirectory(dataDir, [
      { name: "admin secret", bytes: Buffer.from(adminSecret) },
      { name: "marker", bytes: Buffer.from(marker) },
    ]);
    const names = files.map((file) => file.slice(dataDir.length + 1));
    for (const expected of ["trent.stdout.log", "trent.stderr.log", "credentials", join("backups", "scan.backup")]) {
      assert.ok(names.includes(expected), `${expected} is not among ${names.join(", ")}`);
    }
    assert.ok(
      names.some((name) => name.startsWith("audit/")),
      `no audit trail among ${names.join(", ")}`,
    );
    // The credentials file holds the admin's secret in plain text, as it must: the scan finds it there.
    assert.ok(findings.some((f) => f.secret === "admin secret" && f.where.endsWith("credentials")));
    const markerIn = (where: string) => findings.some((f) => f.secret === "marker" && f.where.endsWith(where));
    assert.ok(markerIn("scan.backup"), "the key description is in the backup");
    if (dumped === undefined) {
      assert.ok(names.includes("trent.db"));
      assert.ok(markerIn("trent.db"), "the key description is in the SQLite store");
    } else {
      assert.ok(scanContent("dump", dumped, [{ name: "marker", bytes: Buffer.from(marker) }]).length > 0);
    }
    assert.match(readFileSync(join(dataDir, "trent.stdout.log"), "utf8"), /"msg":"Trent is listening"/);
  });

  test("no data key, private key, random bytes or plaintext in any file, in any encoding", () => {
    assert.equal(secrets.length, 3 + DATA_KEY_PAIR_SPECS.length + 3 + 4);
    const afterStop = scanDirectory(dataDir, secrets);
    assert.ok(afterStop.files.length > 0);
    const findings = [...whileRunning, ...afterStop.findings];
    if (dumped !== undefined) findings.push(...scanContent("the PostgreSQL tables", dumped, secrets));
    assert.deepEqual(findings, []);
  });
});

/** Waits for Trent's "listening" log line in its stdout file; returns its URL. */
async function listeningUrl(child: ChildProcess, stdoutFile: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Trent exited with code ${child.exitCode} before listening`);
    for (const line of readFileSync(stdoutFile, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === "Trent is listening") return entry.url as string;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("Trent did not start within 30 s");
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}
