import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DescribeCustomKeyStoresCommand,
  EncryptCommand,
  GenerateMacCommand,
  KMSClient,
  ListKeysCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
} from "@aws-sdk/client-kms";
import { clusterIdOfToken } from "../../src/domain/custom-key-store.js";
import { Pkcs11Token } from "../../src/hsm/pkcs11-token.js";
import { SOFTHSM_MODULES, TRUST_ANCHOR } from "../support/softhsm.js";
import { TRENT_CLI, trentCli } from "./trent-cli.js";
import { createDatabase, dropDatabase, startTrentProcess, type TrentProcess, testStore } from "./trent-process.js";

const MESSAGE = Buffer.from("signed under the file root");

interface TestToken {
  readonly modulePath: string;
  readonly conf: string;
  readonly dir: string;
  readonly tokenLabel: string;
  readonly pin: string;
}

function tokenScript(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const script = join(dir, "scripts", "softhsm-test-token.mjs");
    if (existsSync(script)) return script;
  }
  throw new Error("scripts/softhsm-test-token.mjs not found above this file");
}

/** A throwaway SoftHSM2 token, or the reason there is none (SoftHSM2 is not installed, outside CI). */
function createToken(): TestToken | string {
  if (!SOFTHSM_MODULES.some((path) => existsSync(path)) && !process.env.CI) {
    return "SoftHSM2 is not installed (apt-get install softhsm2, or run scripts/test.sh): PKCS#11 root tests skipped";
  }
  const output = execFileSync(process.execPath, [tokenScript(), "create", "trent-root-test"], { encoding: "utf8" });
  return JSON.parse(output) as TestToken;
}

const created = createToken();
const skip = typeof created === "string" ? created : false;
const token = typeof created === "string" ? undefined : created;
// Trent, the CLI and this process find the token through it (SoftHSM2 reads it once per process).
if (token) process.env.SOFTHSM2_CONF = token.conf;

let workDir: string;
let pinFile: string;
const databases: string[] = [];

/** The --pkcs11-* options for the test token, with the root key under `keyLabel`. */
function pkcs11Args(keyLabel: string, pin = pinFile): string[] {
  const { modulePath, tokenLabel } = token as TestToken;
  return [
    "--pkcs11-module",
    modulePath,
    "--pkcs11-token-label",
    tokenLabel,
    "--pkcs11-pin-file",
    pin,
    "--pkcs11-root-key-label",
    keyLabel,
  ];
}

/** A data directory, and on PostgreSQL a database of its own, kept across restarts. */
async function newStore(): Promise<{ dataDir: string; storeArgs: string[] }> {
  const dataDir = mkdtempSync(join(workDir, "data-"));
  const store = testStore();
  if (store.kind === "sqlite") return { dataDir, storeArgs: [] };
  const url = await createDatabase(store.serverUrl);
  databases.push(url);
  return { dataDir, storeArgs: ["--store", url] };
}

function client(trent: TrentProcess, credentials = trent.credentials): KMSClient {
  return new KMSClient({ endpoint: trent.url, region: trent.region, credentials, maxAttempts: 1 });
}

async function cli(args: readonly string[], expectedCode = 0): Promise<string> {
  const result = await trentCli(args);
  assert.equal(result.code, expectedCode, `trent ${args.slice(0, 2).join(" ")}:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

before(() => {
  if (skip) return;
  workDir = mkdtempSync(join(tmpdir(), "trent-pkcs11-root-"));
  pinFile = join(workDir, "pin");
  writeFileSync(pinFile, `${(token as TestToken).pin}\n`, { mode: 0o600 });
});

after(async () => {
  for (const url of databases) await dropDatabase(url);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  if (token) execFileSync(process.execPath, [tokenScript(), "remove", token.dir]);
});

describe("the root of trust in a PKCS#11 token", { skip }, () => {
  test("Trent serves with its root key in the token, restarts, and refuses a wrong PIN", async () => {
    const { dataDir, storeArgs } = await newStore();
    const args = ["--root", "pkcs11", ...pkcs11Args("trent-root"), ...storeArgs];
    let trent = await startTrentProcess(args, { dataDir });
    let blob: Uint8Array;
    let signingKeyId: string;
    let signature: Uint8Array;
    try {
      const kms = client(trent);
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
      blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("in the token") })))
        .CiphertextBlob as Uint8Array;
      const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
      assert.equal(Buffer.from(Plaintext as Uint8Array).toString(), "in the token");
      signingKeyId = (await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" })))
        .KeyMetadata?.KeyId as string;
      const sign = { KeyId: signingKeyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" as const };
      signature = (await kms.send(new SignCommand(sign))).Signature as Uint8Array;
      const macKeyId = (await kms.send(new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" })))
        .KeyMetadata?.KeyId as string;
      const mac = { KeyId: macKeyId, Message: MESSAGE, MacAlgorithm: "HMAC_SHA_256" as const };
      const { Mac } = await kms.send(new GenerateMacCommand(mac));
      assert.equal((await kms.send(new VerifyMacCommand({ ...mac, Mac }))).MacValid, true);
      assert.equal(existsSync(join(dataDir, "root.key")), false, "no root key file beside a PKCS#11 root");
      const ready = await fetch(`${trent.url}/ready`);
      assert.equal(ready.status, 200, await ready.text());
    } finally {
      await trent.stop();
    }

    trent = await startTrentProcess(args, { dataDir });
    try {
      const kms = client(trent);
      const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
      assert.equal(Buffer.from(Plaintext as Uint8Array).toString(), "in the token");
      const verify = {
        KeyId: signingKeyId,
        Message: MESSAGE,
        SigningAlgorithm: "ECDSA_SHA_256" as const,
        Signature: signature,
      };
      assert.equal((await kms.send(new VerifyCommand(verify))).SignatureValid, true);

      // A custom key store on the root's own token, which Trent is logged in to: a wrong password still fails.
      const probe = Pkcs11Token.open({
        modulePath: (token as TestToken).modulePath,
        tokenLabel: (token as TestToken).tokenLabel,
        pin: (token as TestToken).pin,
      });
      const clusterId = clusterIdOfToken(probe.serialNumber);
      probe.close();
      const { CustomKeyStoreId } = await kms.send(
        new CreateCustomKeyStoreCommand({
          CustomKeyStoreName: "on-the-root-token",
          CloudHsmClusterId: clusterId,
          KeyStorePassword: "not-the-token-pin",
          TrustAnchorCertificate: TRUST_ANCHOR,
        }),
      );
      await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId }));
      const [store] = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId }))).CustomKeyStores ?? [];
      assert.deepEqual([store?.ConnectionState, store?.ConnectionErrorCode], ["FAILED", "INVALID_CREDENTIALS"]);
    } finally {
      await trent.stop();
    }

    const badPin = join(workDir, "bad-pin");
    writeFileSync(badPin, "999999\n", { mode: 0o600 });
    const wrongPin = await trentCli([
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--root",
      "pkcs11",
      ...pkcs11Args("trent-root", badPin),
      ...storeArgs,
    ]);
    assert.notEqual(wrongPin.code, 0);
    assert.match(wrongPin.stderr, /^trent: cannot log in to the PKCS#11 token: CKR_PIN_INCORRECT\n$/);
    const otherLabel = await trentCli([
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--root",
      "pkcs11",
      ...pkcs11Args("no-such-key"),
      ...storeArgs,
    ]);
    assert.notEqual(otherLabel.code, 0);
    assert.match(otherLabel.stderr, /^trent: the PKCS#11 token "trent-root-test" holds no key labelled "no-such-key"/);

    const inToken = Pkcs11Token.open({
      modulePath: (token as TestToken).modulePath,
      tokenLabel: (token as TestToken).tokenLabel,
      pin: (token as TestToken).pin,
    });
    try {
      const rootKey = inToken.findKey("trent-root");
      assert.ok(rootKey !== undefined, "the root key is an object in the token");
      assert.equal(inToken.isExtractable(rootKey), false);
      const derivingKey = inToken.findKey("trent-root-derive");
      assert.ok(derivingKey !== undefined);
      assert.equal(inToken.isExtractable(derivingKey), false);
    } finally {
      inToken.close();
    }
  });

  test("a store made under the file root moves to the token while Trent serves (killed once), and back", async () => {
    const { dataDir, storeArgs } = await newStore();
    const hsm = pkcs11Args("migrated-root");
    // Serving on the file root, with the token configured too, as an online migration needs.
    const trent = await startTrentProcess([...hsm, ...storeArgs], { dataDir });
    try {
      const fixtures = await populate(trent, dataDir, storeArgs);
      const migrate = (to: string, extra: string[] = []) => [
        "root",
        "migrate",
        "--data",
        dataDir,
        ...storeArgs,
        ...hsm,
        "--to",
        to,
        ...extra,
      ];

      let load = keepUsing(trent, fixtures);
      try {
        // Killed part-way through: every row is of one kind or the other, and a new run goes on.
        await killedPartWay(migrate("pkcs11", ["--pause-ms", "100"]));
        await fixtures.check(trent);
        const resumed = await cli(migrate("pkcs11"));
        assert.match(resumed, /resumed the migration from the key-file root \(root\.key\) to the PKCS#11 root/);
        assert.match(resumed, /the store is now under the PKCS#11 root/);
        await fixtures.check(trent);
      } finally {
        assert.deepEqual(await load.stop(), [], "requests failed while the root changed");
      }

      // The file root is no longer needed: without root.key, the store checks and verifies under the token.
      const rootKeyFile = join(dataDir, "root.key");
      const oldRootKey = readFileSync(rootKeyFile, "utf8");
      renameSync(rootKeyFile, join(workDir, "old-root.key"));
      const underHsm = ["--root", "pkcs11", ...hsm, ...storeArgs];
      assert.match(await cli(["check", "--data", dataDir, ...underHsm]), /no problems found/);
      assert.match(await cli(["audit", "verify", "--data", dataDir, ...underHsm]), /: OK: /);
      await fixtures.check(trent);

      load = keepUsing(trent, fixtures);
      try {
        assert.match(await cli(migrate("file")), /migrated from the PKCS#11 root to the key-file root/);
        await fixtures.check(trent);
      } finally {
        assert.deepEqual(await load.stop(), [], "requests failed while the root changed back");
      }
      assert.equal(statSync(rootKeyFile).mode & 0o777, 0o600);
      assert.notEqual(readFileSync(rootKeyFile, "utf8"), oldRootKey, "a new root key, not the one retired");
      // Without the token's options: nothing in the store needs it any more.
      assert.match(await cli(["check", "--data", dataDir, ...storeArgs]), /no problems found/);
      assert.match(await cli(["audit", "verify", "--data", dataDir, ...storeArgs]), /: OK: /);
    } finally {
      await trent.stop();
    }
  });
});

interface Fixtures {
  /** Every ciphertext, signature and MAC made under the file root still opens or verifies, for both principals. */
  check(trent: TrentProcess): Promise<void>;
  readonly keyId: string;
}

async function populate(trent: TrentProcess, dataDir: string, storeArgs: string[]): Promise<Fixtures> {
  const kms = client(trent);
  const create = async (input: CreateKeyCommandInput) =>
    (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId as string;
  const [keyId, rsaKeyId, eccKeyId, macKeyId] = await Promise.all([
    create({}),
    create({ KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT" }),
    create({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    create({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }),
  ]);
  const blobs: { blob: Uint8Array; plaintext: Buffer }[] = [];
  for (let version = 1; version <= 3; version++) {
    if (version > 1) await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const plaintext = randomBytes(24);
    blobs.push({
      blob: (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).CiphertextBlob as Uint8Array,
      plaintext,
    });
  }
  const rsaPlaintext = randomBytes(32);
  const rsaBlob = (
    await kms.send(
      new EncryptCommand({ KeyId: rsaKeyId, Plaintext: rsaPlaintext, EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }),
    )
  ).CiphertextBlob as Uint8Array;
  const sign = { KeyId: eccKeyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" as const };
  const signature = (await kms.send(new SignCommand(sign))).Signature as Uint8Array;
  const mac = { KeyId: macKeyId, Message: MESSAGE, MacAlgorithm: "HMAC_SHA_256" as const };
  const { Mac } = await kms.send(new GenerateMacCommand(mac));

  const printed = await cli(["access-key", "create", "--user", "bob", "--data", dataDir, ...storeArgs]);
  const bob = JSON.parse(printed) as { AccessKeyId: string; SecretAccessKey: string };
  const bobCredentials = { accessKeyId: bob.AccessKeyId, secretAccessKey: bob.SecretAccessKey };

  return {
    keyId,
    async check(serving: TrentProcess) {
      const serverKms = client(serving);
      for (const { blob, plaintext } of blobs) {
        const { Plaintext } = await serverKms.send(new DecryptCommand({ CiphertextBlob: blob }));
        assert.deepEqual(Buffer.from(Plaintext as Uint8Array), plaintext);
      }
      // Bob may do nothing: refused by policy, his request was signed with the secret Trent unwrapped.
      await assert.rejects(client(serving, bobCredentials).send(new ListKeysCommand({})), {
        name: "AccessDeniedException",
      });
      const rsa = await serverKms.send(
        new DecryptCommand({ KeyId: rsaKeyId, CiphertextBlob: rsaBlob, EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }),
      );
      assert.deepEqual(Buffer.from(rsa.Plaintext as Uint8Array), rsaPlaintext);
      assert.equal((await serverKms.send(new VerifyCommand({ ...sign, Signature: signature }))).SignatureValid, true);
      assert.equal((await serverKms.send(new VerifyMacCommand({ ...mac, Mac }))).MacValid, true);
    },
  };
}

/**
 * Uses Trent until stopped: decrypts what was made before, and makes new keys (wrapped under
 * whichever root is current) and uses them. Resolves with the errors seen.
 */
function keepUsing(trent: TrentProcess, fixtures: Fixtures): { stop(): Promise<string[]> } {
  const kms = client(trent);
  const errors: string[] = [];
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      try {
        const keyId = (await kms.send(new CreateKeyCommand({ Description: "made mid-migration" }))).KeyMetadata
          ?.KeyId as string;
        const plaintext = randomBytes(16);
        const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
        const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
        if (!Buffer.from(Plaintext as Uint8Array).equals(plaintext)) errors.push("a new key decrypted to other bytes");
        await kms.send(new ListKeysCommand({ Limit: 1 }));
        await kms.send(new EncryptCommand({ KeyId: fixtures.keyId, Plaintext: plaintext }));
      } catch (error) {
        errors.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return errors;
    },
  };
}

/** Runs `trent root migrate` and kills it (SIGKILL) a moment after it has begun re-wrapping. */
async function killedPartWay(args: readonly string[]): Promise<void> {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("TRENT_")) delete env[name];
  const child = spawn(process.execPath, [TRENT_CLI, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  await new Promise<void>((resolve) => {
    lines.on("line", (line) => {
      if (line.startsWith("re-wrapping")) resolve();
    });
    void exited.then(() => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, 250));
  child.kill("SIGKILL");
  assert.equal(await exited, null, "the migration was still running when it was killed");
}
