import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
} from "@aws-sdk/client-kms";
import pg from "pg";
import { BACKUP_TABLES, type BackupSource, type BackupTable, type StoreSnapshot } from "../../src/store/backup.js";
import { PostgresKeyStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import { trentCli } from "./trent-cli.js";
import { createDatabase, dropDatabase, startTrentProcess, type TrentProcess, testStore } from "./trent-process.js";

/** Rows in all of Trent's tables of a PostgreSQL database. */
async function rowsInDatabase(url: string): Promise<number> {
  const connection = new pg.Client({ connectionString: url });
  await connection.connect();
  try {
    const counts = BACKUP_TABLES.map((table) => `(SELECT count(*) FROM ${table.name})`).join(" + ");
    const { rows } = await connection.query<{ total: string }>(`SELECT ${counts} AS total`);
    return Number(rows[0]?.total);
  } finally {
    await connection.end();
  }
}

const storeArgs = (storeUrl: string | undefined) => (storeUrl === undefined ? [] : ["--store", storeUrl]);

/** What the original Trent made before the backup, and what a restored Trent must still do with it. */
interface Fixtures {
  readonly symmetricKeyId: string;
  readonly alias: string;
  readonly grantId: string;
  /** Ciphertexts under the symmetric key's first and second (rotated) backing key, with their plaintexts. */
  readonly blobs: ReadonlyArray<{ blob: Uint8Array; plaintext: Buffer; context?: Record<string, string> }>;
  readonly rsaKeyId: string;
  readonly rsaBlob: Uint8Array;
  readonly rsaPlaintext: Buffer;
  readonly signatures: ReadonlyArray<{
    keyId: string;
    algorithm: "RSASSA_PSS_SHA_256" | "ECDSA_SHA_256";
    signature: Uint8Array;
    publicKey: Uint8Array;
  }>;
  readonly hmacKeyId: string;
  readonly mac: Uint8Array;
}

const MESSAGE = Buffer.from("signed before the backup");
const CONTEXT = { Purpose: "backup-test" };

let source: TrentProcess;
let kms: KMSClient;
let fixtures: Fixtures;
let workDir: string;
/** A backup taken while a client kept writing, and what that client wrote before, during and after it. */
let backupFile: string;
let written: LoadRecord[];
let backupStartedAt: number;
let backupEndedAt: number;

interface LoadRecord {
  readonly keyId: string;
  readonly alias: string;
  readonly blob: Uint8Array;
  readonly plaintext: Buffer;
  /** When its first write was sent, and when its last was acknowledged. */
  readonly startedAt: number;
  readonly doneAt: number;
}

function client(trent: TrentProcess): KMSClient {
  return new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
}

async function makeFixtures(): Promise<Fixtures> {
  const created = async (input: CreateKeyCommandInput) =>
    (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId as string;
  const [symmetricKeyId, rsaKeyId, rsaSigningKeyId, eccSigningKeyId, hmacKeyId] = await Promise.all([
    created({ Description: "symmetric", Tags: [{ TagKey: "team", TagValue: "blue" }] }),
    created({ KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT" }),
    created({ KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY" }),
    created({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    created({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }),
  ]);
  const alias = "alias/backup-test";
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: symmetricKeyId }));
  const grant = await kms.send(
    new CreateGrantCommand({
      KeyId: symmetricKeyId,
      GranteePrincipal: `arn:aws:iam::${source.accountId}:role/backup-reader`,
      Operations: ["Decrypt"],
      Name: "backup-test-grant",
    }),
  );
  const encrypt = async (plaintext: Buffer, context?: Record<string, string>) => {
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: alias, Plaintext: plaintext, ...(context ? { EncryptionContext: context } : {}) }),
    );
    return { blob: CiphertextBlob as Uint8Array, plaintext, ...(context ? { context } : {}) };
  };
  const blobs = [await encrypt(randomBytes(32)), await encrypt(randomBytes(100), CONTEXT)];
  const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: symmetricKeyId, KeySpec: "AES_256" }));
  blobs.push({ blob: dataKey.CiphertextBlob as Uint8Array, plaintext: Buffer.from(dataKey.Plaintext as Uint8Array) });
  await kms.send(new RotateKeyOnDemandCommand({ KeyId: symmetricKeyId }));
  blobs.push(await encrypt(randomBytes(16)));

  const rsaPlaintext = randomBytes(64);
  const rsaBlob = (
    await kms.send(
      new EncryptCommand({ KeyId: rsaKeyId, Plaintext: rsaPlaintext, EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }),
    )
  ).CiphertextBlob as Uint8Array;
  const signatures = await Promise.all(
    (
      [
        [rsaSigningKeyId, "RSASSA_PSS_SHA_256"],
        [eccSigningKeyId, "ECDSA_SHA_256"],
      ] as const
    ).map(async ([keyId, algorithm]) => ({
      keyId,
      algorithm,
      signature: (await kms.send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: algorithm })))
        .Signature as Uint8Array,
      publicKey: (await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey as Uint8Array,
    })),
  );
  const mac = (
    await kms.send(new GenerateMacCommand({ KeyId: hmacKeyId, Message: MESSAGE, MacAlgorithm: "HMAC_SHA_256" }))
  ).Mac as Uint8Array;
  return {
    symmetricKeyId,
    alias,
    grantId: grant.GrantId as string,
    blobs,
    rsaKeyId,
    rsaBlob,
    rsaPlaintext,
    signatures,
    hmacKeyId,
    mac,
  };
}

/** Creates keys, aliases and ciphertexts one after another until `stop` resolves. */
async function keepWriting(stop: Promise<void>): Promise<LoadRecord[]> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const records: LoadRecord[] = [];
  for (let i = 0; !stopped; i++) {
    const startedAt = Date.now();
    const keyId = (await kms.send(new CreateKeyCommand({ Description: `load ${i}` }))).KeyMetadata?.KeyId as string;
    const alias = `alias/load-${i}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    const plaintext = randomBytes(24);
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: alias, Plaintext: plaintext }));
    records.push({ keyId, alias, blob: CiphertextBlob as Uint8Array, plaintext, startedAt, doneAt: Date.now() });
  }
  return records;
}

/** Everything made before the backup works on `trent` as it did on the original. */
async function assertRestored(trent: TrentProcess): Promise<void> {
  const restored = client(trent);
  try {
    for (const { blob, plaintext, context } of fixtures.blobs) {
      const { Plaintext, KeyId } = await restored.send(
        new DecryptCommand({ CiphertextBlob: blob, ...(context ? { EncryptionContext: context } : {}) }),
      );
      assert.deepEqual(Buffer.from(Plaintext as Uint8Array), plaintext);
      assert.match(KeyId as string, new RegExp(`${fixtures.symmetricKeyId}$`));
    }
    const rsa = await restored.send(
      new DecryptCommand({
        KeyId: fixtures.rsaKeyId,
        CiphertextBlob: fixtures.rsaBlob,
        EncryptionAlgorithm: "RSAES_OAEP_SHA_256",
      }),
    );
    assert.deepEqual(Buffer.from(rsa.Plaintext as Uint8Array), fixtures.rsaPlaintext);
    for (const { keyId, algorithm, signature, publicKey } of fixtures.signatures) {
      const verified = await restored.send(
        new VerifyCommand({ KeyId: keyId, Message: MESSAGE, Signature: signature, SigningAlgorithm: algorithm }),
      );
      assert.equal(verified.SignatureValid, true);
      const { PublicKey } = await restored.send(new GetPublicKeyCommand({ KeyId: keyId }));
      assert.deepEqual(Buffer.from(PublicKey as Uint8Array), Buffer.from(publicKey));
    }
    const mac = await restored.send(
      new VerifyMacCommand({
        KeyId: fixtures.hmacKeyId,
        Message: MESSAGE,
        Mac: fixtures.mac,
        MacAlgorithm: "HMAC_SHA_256",
      }),
    );
    assert.equal(mac.MacValid, true);

    const { Aliases } = await restored.send(new ListAliasesCommand({ KeyId: fixtures.symmetricKeyId }));
    assert.deepEqual(
      Aliases?.map((alias) => alias.AliasName),
      [fixtures.alias],
    );
    const { Grants } = await restored.send(new ListGrantsCommand({ KeyId: fixtures.symmetricKeyId }));
    assert.deepEqual(
      Grants?.map((grant) => [grant.GrantId, grant.Name, grant.Operations]),
      [[fixtures.grantId, "backup-test-grant", ["Decrypt"]]],
    );
    const { Tags } = await restored.send(new ListResourceTagsCommand({ KeyId: fixtures.symmetricKeyId }));
    assert.deepEqual(Tags, [{ TagKey: "team", TagValue: "blue" }]);
    const { Rotations } = await restored.send(new ListKeyRotationsCommand({ KeyId: fixtures.symmetricKeyId }));
    assert.equal(Rotations?.length, 1);
  } finally {
    restored.destroy();
  }
}

/** A fresh place to restore into: a data directory holding the root key, and on PostgreSQL an empty database. */
async function freshTarget(
  withRootKey: boolean,
  store = testStore(),
): Promise<{ dataDir: string; storeUrl: string | undefined; remove(): Promise<void> }> {
  const dataDir = join(workDir, `restored-${randomBytes(4).toString("hex")}`);
  if (withRootKey) {
    mkdirSync(dataDir, { mode: 0o700 });
    copyFileSync(join(source.dataDir, "root.key"), join(dataDir, "root.key"));
  }
  const storeUrl = store.kind === "postgres" ? await createDatabase(store.serverUrl) : undefined;
  return {
    dataDir,
    storeUrl,
    async remove() {
      rmSync(dataDir, { recursive: true, force: true });
      if (storeUrl !== undefined) await dropDatabase(storeUrl);
    },
  };
}

/** The store the suite does not run on, when this machine has it: backups cross between stores. */
function otherStore(): ReturnType<typeof testStore> | undefined {
  if (testStore().kind === "postgres") return { kind: "sqlite" };
  const serverUrl = process.env.TRENT_TEST_POSTGRES_URL;
  return serverUrl ? { kind: "postgres", serverUrl } : undefined;
}

/** Starts Trent on a restored target; `--store sqlite` keeps the test store from giving it a new database. */
function startRestored(target: { dataDir: string; storeUrl: string | undefined }): Promise<TrentProcess> {
  return startTrentProcess(["--store", target.storeUrl ?? "sqlite"], { dataDir: target.dataDir });
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), "trent-backup-test-"));
  source = await startTrentProcess();
  kms = client(source);
  fixtures = await makeFixtures();

  let stopWriting = () => {};
  const writer = keepWriting(new Promise<void>((resolve) => (stopWriting = resolve)));
  // Let the writer get going, so the backup overlaps its writes.
  await new Promise((resolve) => setTimeout(resolve, 200));
  backupFile = join(workDir, "while-writing.backup");
  backupStartedAt = Date.now();
  const backup = await trentCli([
    "backup",
    "--data",
    source.dataDir,
    ...storeArgs(source.storeUrl),
    "--out",
    backupFile,
  ]);
  backupEndedAt = Date.now();
  // And some more after it, which the backup must not hold.
  await new Promise((resolve) => setTimeout(resolve, 200));
  stopWriting();
  written = await writer;
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /^backed up \d+ keys/);
});

after(async () => {
  kms?.destroy();
  await source?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("trent backup", () => {
  test("the backup file is readable by its owner only, and no temporary file is left beside it", () => {
    assert.equal(statSync(backupFile).mode & 0o777, 0o600);
    assert.deepEqual(
      readdirSync(workDir).filter((name) => name.includes("while-writing")),
      ["while-writing.backup"],
    );
  });

  test("the client kept writing while the backup was taken", () => {
    const during = written.filter((record) => record.doneAt > backupStartedAt && record.doneAt < backupEndedAt);
    assert.ok(during.length >= 3, `only ${during.length} keys were written during the backup`);
  });

  test("the backup holds key material only wrapped: no plaintext, data key or root key in it", () => {
    const text = readFileSync(backupFile);
    const rootKey = Buffer.from(readFileSync(join(source.dataDir, "root.key"), "utf8").trim(), "base64");
    for (const secret of [rootKey, ...fixtures.blobs.map((entry) => entry.plaintext), fixtures.rsaPlaintext]) {
      for (const encoded of [secret, Buffer.from(secret.toString("base64")), Buffer.from(secret.toString("hex"))]) {
        assert.equal(text.includes(encoded), false);
      }
    }
  });

  test("a snapshot sees none of the writes committed while it is read", async () => {
    const store = testStore();
    const opened =
      store.kind === "postgres"
        ? await PostgresKeyStore.open(source.storeUrl as string)
        : new SqliteKeyStore(join(source.dataDir, "trent.db"));
    const keysTable = BACKUP_TABLES.find((table) => table.name === "keys") as BackupTable;
    const keyIds = async (snapshot: StoreSnapshot) => {
      const ids: unknown[] = [];
      for await (const row of snapshot.rows(keysTable)) ids.push(row[0]);
      return ids;
    };
    try {
      const backupSource: BackupSource = opened;
      let createdMeanwhile = "";
      const [seenFirst, seenAgain] = await backupSource.readSnapshot(async (snapshot) => {
        // Committed by the server after the snapshot began, before anything was read through it.
        createdMeanwhile = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
        const seen = await keyIds(snapshot);
        await kms.send(new CreateKeyCommand({}));
        return [seen, await keyIds(snapshot)];
      });
      assert.equal(seenFirst.includes(createdMeanwhile), false);
      assert.deepEqual(seenAgain, seenFirst);
      const seenLater = await backupSource.readSnapshot(keyIds);
      assert.ok(seenLater.includes(createdMeanwhile));
      assert.equal(seenLater.length, seenFirst.length + 2);
    } finally {
      await opened.close();
    }
  });
});

describe("trent restore", () => {
  test("a restored Trent serves everything made before the backup, from a consistent store", async () => {
    const target = await freshTarget(true);
    try {
      const restore = await trentCli([
        "restore",
        "--in",
        backupFile,
        "--data",
        target.dataDir,
        ...storeArgs(target.storeUrl),
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      const restored = await startRestored(target);
      try {
        assert.equal(restored.accountId, source.accountId);
        assert.equal(restored.credentials.accessKeyId, source.credentials.accessKeyId);
        await assertRestored(restored);
        const restoredKms = client(restored);
        try {
          // What the writer finished before the backup began is all there, what it began after the
          // backup ended is not, and a key made during the backup is there with its backing key or not at all.
          for (const record of written) {
            const exists = await restoredKms
              .send(new DescribeKeyCommand({ KeyId: record.keyId }))
              .then(() => true)
              .catch((error: Error) => {
                assert.equal(error.name, "NotFoundException");
                return false;
              });
            if (record.startedAt > backupEndedAt) assert.ok(!exists, `${record.keyId} was made after the backup`);
            if (record.doneAt < backupStartedAt) {
              assert.ok(exists, `${record.keyId} was made before the backup`);
              const { Aliases } = await restoredKms.send(new ListAliasesCommand({ KeyId: record.keyId }));
              assert.deepEqual(
                Aliases?.map((alias) => alias.AliasName),
                [record.alias],
              );
            }
            if (!exists) continue;
            const { Plaintext } = await restoredKms.send(new DecryptCommand({ CiphertextBlob: record.blob }));
            assert.deepEqual(Buffer.from(Plaintext as Uint8Array), record.plaintext);
          }
        } finally {
          restoredKms.destroy();
        }
      } finally {
        await restored.stop();
      }
    } finally {
      await target.remove();
    }
  });

  test("a wrong root key is refused before anything is written", async () => {
    const target = await freshTarget(false);
    try {
      const wrongKey = randomBytes(32).toString("base64");
      const restore = await trentCli([
        "restore",
        "--in",
        backupFile,
        "--data",
        target.dataDir,
        "--root-key",
        wrongKey,
        ...storeArgs(target.storeUrl),
      ]);
      assert.equal(restore.code, 1);
      assert.match(restore.stderr, /the root key does not match the backup/);
      assert.equal(existsSync(target.dataDir), false);
      // With no root key at all, the restore does not make one up either.
      const keyless = await trentCli(["restore", "--in", backupFile, "--data", target.dataDir]);
      assert.equal(keyless.code, 1);
      assert.match(keyless.stderr, /no root key/);
      assert.equal(existsSync(target.dataDir), false);
    } finally {
      await target.remove();
    }
  });

  test("a data directory or database that is not empty is refused", async () => {
    if (source.storeUrl === undefined) {
      const intoSource = await trentCli(["restore", "--in", backupFile, "--data", source.dataDir]);
      assert.equal(intoSource.code, 1);
      assert.match(intoSource.stderr, /is not empty \(it holds .+\): restore only into a new data directory/);
      return;
    }
    // A fresh data directory, but the source's database, which holds data.
    const target = await freshTarget(true, { kind: "sqlite" });
    try {
      const intoDatabase = await trentCli([
        "restore",
        "--in",
        backupFile,
        "--data",
        target.dataDir,
        "--store",
        source.storeUrl,
      ]);
      assert.equal(intoDatabase.code, 1);
      assert.match(intoDatabase.stderr, /the database already holds data \(in meta\): restore only into an empty one/);
    } finally {
      await target.remove();
    }
  });

  test("a damaged, truncated or newer-schema backup is refused and leaves the target empty", async () => {
    const lines = readFileSync(backupFile, "utf8").trimEnd().split("\n");
    const keyRow = lines.findIndex((line) => line.startsWith(`["${fixtures.symmetricKeyId}",`));
    assert.ok(keyRow > 0);
    const damaged = [...lines];
    damaged[keyRow] = (damaged[keyRow] as string).replace('"symmetric"', '"symmetrix"');
    const cases: Array<[string, string, RegExp]> = [
      ["damaged", `${damaged.join("\n")}\n`, /is damaged/],
      ["truncated", `${lines.slice(0, -1).join("\n")}\n`, /is cut short/],
      [
        "newer",
        `${[(lines[0] as string).replace(/"version":\d+/, '"version":999'), ...lines.slice(1)].join("\n")}\n`,
        /the backup is of a newer Trent \((sqlite|postgres) schema version 999; this Trent knows up to \d+\)/,
      ],
    ];
    const target = await freshTarget(true);
    try {
      for (const [name, content, message] of cases) {
        const file = join(workDir, `${name}.backup`);
        writeFileSync(file, content);
        const restore = await trentCli([
          "restore",
          "--in",
          file,
          "--data",
          target.dataDir,
          ...storeArgs(target.storeUrl),
        ]);
        assert.equal(restore.code, 1, name);
        assert.match(restore.stderr, message, name);
        assert.deepEqual(readdirSync(target.dataDir), ["root.key"], name);
        if (target.storeUrl !== undefined) {
          // The database may have gained Trent's schema, but no rows.
          assert.equal(await rowsInDatabase(target.storeUrl), 0, name);
        }
      }
    } finally {
      await target.remove();
    }
  });

  const other = otherStore();
  test(`a ${testStore().kind} backup restores into ${other?.kind ?? "the other store"}, given the root key by --root-key`, {
    skip: other === undefined && "PostgreSQL is not available (TRENT_TEST_POSTGRES_URL)",
  }, async () => {
    const rootKey = readFileSync(join(source.dataDir, "root.key"), "utf8").trim();
    const target = await freshTarget(false, other);
    try {
      const restore = await trentCli([
        "restore",
        "--in",
        backupFile,
        "--data",
        target.dataDir,
        ...storeArgs(target.storeUrl),
        "--root-key",
        rootKey,
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, /and the same --root-key/);
      const restored = await startTrentProcess(["--store", target.storeUrl ?? "sqlite", "--root-key", rootKey], {
        dataDir: target.dataDir,
      });
      try {
        await assertRestored(restored);
      } finally {
        await restored.stop();
      }
    } finally {
      await target.remove();
    }
  });
});
