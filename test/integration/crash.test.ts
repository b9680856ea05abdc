import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  type KeySpec,
  type KeyUsageType,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  type SigningAlgorithmSpec,
  TagResourceCommand,
  VerifyCommand,
  VerifyMacCommand,
} from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createDatabase, dropDatabase, startTrentProcess, type TrentProcess, testStore } from "./trent-process.js";

/**
 * kill -9 under load, restart on the same data, and check that everything any client was told
 * is still true: each cycle runs several @aws-sdk/client-kms clients doing writes and crypto
 * against a real `trent serve`, kills it mid-flight, starts it again, and checks every response
 * received so far (keys, aliases, grants and their tokens, ciphertexts, data keys, signatures,
 * MACs, tags, rotations), then runs `trent check` (and `trent audit verify`) on the data.
 * TRENT_CRASH_CYCLES sets the number of cycles (default 3; the long mode is 20).
 */
const CYCLES = Number(process.env.TRENT_CRASH_CYCLES ?? 3);
const CLIENTS = 4;
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
/** Enough for a few cycles' records on a busy machine; the long mode gets the time it needs. */
const TIMEOUT_MS = Math.max(120_000, CYCLES * 60_000);

type KeyKind = "symmetric" | "rsa-sign" | "ecc-sign" | "hmac";
const KEY_KINDS: Record<KeyKind, { spec: KeySpec; usage: KeyUsageType }> = {
  symmetric: { spec: "SYMMETRIC_DEFAULT", usage: "ENCRYPT_DECRYPT" },
  "rsa-sign": { spec: "RSA_2048", usage: "SIGN_VERIFY" },
  "ecc-sign": { spec: "ECC_NIST_P256", usage: "SIGN_VERIFY" },
  hmac: { spec: "HMAC_256", usage: "GENERATE_VERIFY_MAC" },
};
const SIGNING_ALGORITHM: Partial<Record<KeyKind, SigningAlgorithmSpec>> = {
  "rsa-sign": "RSASSA_PSS_SHA_256",
  "ecc-sign": "ECDSA_SHA_256",
};

/** What the clients were told: each entry is a response received before a crash. */
interface Received {
  keys: { keyId: string; kind: KeyKind; tags: Map<string, string>; rotations: number }[];
  aliases: { aliasName: string; keyId: string }[];
  grants: { grantId: string; grantToken: string; keyId: string; kind: KeyKind }[];
  ciphertexts: { keyId: string; ciphertext: Uint8Array; plaintext: Buffer; context: Record<string, string> }[];
  signatures: { keyId: string; kind: KeyKind; message: Buffer; signature: Uint8Array }[];
  macs: { keyId: string; message: Buffer; mac: Uint8Array }[];
}

const received: Received = { keys: [], aliases: [], grants: [], ciphertexts: [], signatures: [], macs: [] };
let dataDir: string;
let storeArgs: string[] = [];
let ownDatabase: string | undefined;
let trent: TrentProcess | undefined;
let grantee: { accessKeyId: string; secretAccessKey: string; arn: string };
let sequence = 0;

function client(credentials: { accessKeyId: string; secretAccessKey: string }): KMSClient {
  return new KMSClient({
    endpoint: (trent as TrentProcess).url,
    region: (trent as TrentProcess).region,
    credentials,
    // One attempt: a request either got its response, or did not and is not counted.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true }), requestTimeout: 30_000 }),
  });
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args, "--data", dataDir], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

function pick<T>(items: readonly T[]): T | undefined {
  return items[Math.floor(Math.random() * items.length)];
}

function keysOf(...kinds: KeyKind[]) {
  return received.keys.filter((key) => kinds.includes(key.kind));
}

/** A request the SDK sent that got no HTTP response: the server died under it. */
function noResponse(error: unknown): boolean {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata !== undefined && metadata.httpStatusCode === undefined;
}

/** One randomly chosen operation; what it was told is recorded only once its response arrived. */
async function oneOperation(admin: KMSClient, asGrantee: KMSClient): Promise<void> {
  const roll = Math.random();
  const symmetric = pick(keysOf("symmetric"));
  if (roll < 0.12 || symmetric === undefined) {
    const kind = pick(Object.keys(KEY_KINDS) as KeyKind[]) as KeyKind;
    const { KeyMetadata } = await admin.send(
      new CreateKeyCommand({
        KeySpec: KEY_KINDS[kind].spec,
        KeyUsage: KEY_KINDS[kind].usage,
        Description: `crash test ${kind}`,
      }),
    );
    received.keys.push({ keyId: KeyMetadata?.KeyId as string, kind, tags: new Map(), rotations: 0 });
  } else if (roll < 0.2) {
    const key = pick(received.keys) as Received["keys"][number];
    const aliasName = `alias/crash-${++sequence}-${randomBytes(4).toString("hex")}`;
    await admin.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: key.keyId }));
    received.aliases.push({ aliasName, keyId: key.keyId });
  } else if (roll < 0.28) {
    const key = pick([...keysOf("symmetric", "ecc-sign", "rsa-sign")]) as Received["keys"][number];
    const operations = key.kind === "symmetric" ? ["Encrypt", "Decrypt", "GenerateDataKey"] : ["Sign", "Verify"];
    const grant = await admin.send(
      new CreateGrantCommand({
        KeyId: key.keyId,
        GranteePrincipal: grantee.arn,
        Operations: operations as never,
        Name: `crash-${++sequence}`,
      }),
    );
    received.grants.push({
      grantId: grant.GrantId as string,
      grantToken: grant.GrantToken as string,
      keyId: key.keyId,
      kind: key.kind,
    });
  } else if (roll < 0.45) {
    const plaintext = randomBytes(1 + Math.floor(Math.random() * 200));
    const context = { cycle: String(sequence), n: randomBytes(3).toString("hex") };
    const out = await admin.send(
      new EncryptCommand({ KeyId: symmetric.keyId, Plaintext: plaintext, EncryptionContext: context }),
    );
    received.ciphertexts.push({
      keyId: symmetric.keyId,
      ciphertext: out.CiphertextBlob as Uint8Array,
      plaintext,
      context,
    });
  } else if (roll < 0.6) {
    const grant = pick(received.grants.filter((candidate) => candidate.kind === "symmetric"));
    const context = { via: grant === undefined ? "admin" : "grant" };
    const kms = grant === undefined ? admin : asGrantee;
    const keyId = grant?.keyId ?? symmetric.keyId;
    const out = await kms.send(
      new GenerateDataKeyCommand({
        KeyId: keyId,
        KeySpec: "AES_256",
        EncryptionContext: context,
        ...(grant === undefined ? {} : { GrantTokens: [grant.grantToken] }),
      }),
    );
    received.ciphertexts.push({
      keyId,
      ciphertext: out.CiphertextBlob as Uint8Array,
      plaintext: Buffer.from(out.Plaintext as Uint8Array),
      context,
    });
  } else if (roll < 0.72) {
    const key = pick(keysOf("rsa-sign", "ecc-sign"));
    if (key === undefined) return;
    const message = randomBytes(64);
    const out = await admin.send(
      new SignCommand({
        KeyId: key.keyId,
        Message: message,
        SigningAlgorithm: SIGNING_ALGORITHM[key.kind],
      }),
    );
    received.signatures.push({ keyId: key.keyId, kind: key.kind, message, signature: out.Signature as Uint8Array });
  } else if (roll < 0.8) {
    const key = pick(keysOf("hmac"));
    if (key === undefined) return;
    const message = randomBytes(48);
    const out = await admin.send(
      new GenerateMacCommand({ KeyId: key.keyId, Message: message, MacAlgorithm: "HMAC_SHA_256" }),
    );
    received.macs.push({ keyId: key.keyId, message, mac: out.Mac as Uint8Array });
  } else if (roll < 0.92) {
    const key = pick(received.keys.filter((candidate) => candidate.tags.size < 40));
    if (key === undefined) return;
    const tag = { TagKey: `t${++sequence}`, TagValue: randomBytes(4).toString("hex") };
    await admin.send(new TagResourceCommand({ KeyId: key.keyId, Tags: [tag] }));
    key.tags.set(tag.TagKey, tag.TagValue);
  } else {
    const key = pick(keysOf("symmetric").filter((candidate) => candidate.rotations < 10));
    if (key === undefined) return;
    try {
      await admin.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
      key.rotations++;
    } catch (error) {
      // Two clients rotating one key at once: one rotation is written, the other told so.
      if ((error as Error).name !== "ConflictException") throw error;
    }
  }
}

/**
 * Runs the clients, kills the server with SIGKILL after `killAfterMs`, and returns how many
 * responses the clients received and how many requests the kill cut off. Any answer that is an
 * error (a KMS error, a 5xx) fails the test: under this load every request is valid.
 */
async function loadUntilKilled(killAfterMs: number): Promise<{ responses: number; cutOff: number }> {
  const child = (trent as TrentProcess).process;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let responses = 0;
  let cutOff = 0;
  let stopped = false;
  let failure: unknown;
  const clients = Array.from({ length: CLIENTS }, async () => {
    const admin = client((trent as TrentProcess).credentials);
    const asGrantee = client(grantee);
    while (!stopped) {
      try {
        await oneOperation(admin, asGrantee);
        responses++;
      } catch (error) {
        if (noResponse(error)) cutOff++;
        else failure ??= error;
        stopped = true;
      }
    }
    admin.destroy();
    asGrantee.destroy();
  });
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill("SIGKILL");
  await exited;
  stopped = true;
  await Promise.all(clients);
  if (failure !== undefined) throw failure;
  return { responses, cutOff };
}

/** Runs `check` over `items`, a few at a time; returns how many checks ran. */
async function each<T>(items: readonly T[], check: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < items.length) await check(items[next++] as T);
    }),
  );
  return items.length;
}

/** Checks every response received so far against the restarted server; returns how many checks ran. */
async function verifyReceived(): Promise<number> {
  const admin = client((trent as TrentProcess).credentials);
  const asGrantee = client(grantee);
  try {
    let checks = 0;
    checks += await each(received.keys, async (key) => {
      const { KeyMetadata } = await admin.send(new DescribeKeyCommand({ KeyId: key.keyId }));
      assert.equal(KeyMetadata?.KeyState, "Enabled");
      assert.equal(KeyMetadata?.KeySpec, KEY_KINDS[key.kind].spec);
      assert.equal(KeyMetadata?.KeyUsage, KEY_KINDS[key.kind].usage);
      if (key.tags.size > 0) {
        const tags = new Map<string, string>();
        let marker: string | undefined;
        do {
          const page = await admin.send(new ListResourceTagsCommand({ KeyId: key.keyId, Marker: marker }));
          for (const tag of page.Tags ?? []) tags.set(tag.TagKey as string, tag.TagValue as string);
          marker = page.Truncated ? page.NextMarker : undefined;
        } while (marker !== undefined);
        for (const [tagKey, value] of key.tags) assert.equal(tags.get(tagKey), value, `tag ${tagKey} of ${key.keyId}`);
      }
      if (key.rotations > 0) {
        const { Rotations } = await admin.send(new ListKeyRotationsCommand({ KeyId: key.keyId }));
        assert.ok((Rotations?.length ?? 0) >= key.rotations, `${key.keyId} was rotated ${key.rotations} times`);
      }
    });
    const aliases = new Map<string, string>();
    let marker: string | undefined;
    do {
      const page = await admin.send(new ListAliasesCommand({ Marker: marker, Limit: 100 }));
      for (const alias of page.Aliases ?? []) aliases.set(alias.AliasName as string, alias.TargetKeyId as string);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker !== undefined);
    checks += await each(received.aliases, async (alias) => {
      assert.equal(aliases.get(alias.aliasName), alias.keyId, `${alias.aliasName} is listed`);
      const { KeyMetadata } = await admin.send(new DescribeKeyCommand({ KeyId: alias.aliasName }));
      assert.equal(KeyMetadata?.KeyId, alias.keyId, `${alias.aliasName} resolves`);
    });
    checks += await each(received.grants, async (grant) => {
      const { Grants } = await admin.send(new ListGrantsCommand({ KeyId: grant.keyId, GrantId: grant.grantId }));
      assert.equal(Grants?.[0]?.GrantId, grant.grantId, `grant ${grant.grantId} is listed`);
      // The grantee has no permission of its own: only the grant lets it do this.
      if (grant.kind === "symmetric") {
        const out = await asGrantee.send(
          new GenerateDataKeyCommand({ KeyId: grant.keyId, KeySpec: "AES_128", GrantTokens: [grant.grantToken] }),
        );
        assert.equal(out.Plaintext?.length, 16);
      } else {
        const message = randomBytes(16);
        const algorithm = SIGNING_ALGORITHM[grant.kind];
        await asGrantee.send(new SignCommand({ KeyId: grant.keyId, Message: message, SigningAlgorithm: algorithm }));
      }
    });
    checks += await each(received.ciphertexts, async (record) => {
      const out = await admin.send(
        new DecryptCommand({ CiphertextBlob: record.ciphertext, EncryptionContext: record.context }),
      );
      assert.equal(out.KeyId?.endsWith(record.keyId), true);
      assert.deepEqual(Buffer.from(out.Plaintext as Uint8Array), record.plaintext);
    });
    checks += await each(received.signatures, async (record) => {
      const out = await admin.send(
        new VerifyCommand({
          KeyId: record.keyId,
          Message: record.message,
          Signature: record.signature,
          SigningAlgorithm: SIGNING_ALGORITHM[record.kind],
        }),
      );
      assert.equal(out.SignatureValid, true);
    });
    checks += await each(received.macs, async (record) => {
      const out = await admin.send(
        new VerifyMacCommand({
          KeyId: record.keyId,
          Message: record.message,
          Mac: record.mac,
          MacAlgorithm: "HMAC_SHA_256",
        }),
      );
      assert.equal(out.MacValid, true);
    });
    return checks;
  } finally {
    admin.destroy();
    asGrantee.destroy();
  }
}

async function start(): Promise<void> {
  trent = await startTrentProcess(storeArgs, { dataDir });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trent-crash-"));
  const store = testStore();
  if (store.kind === "postgres") {
    ownDatabase = await createDatabase(store.serverUrl);
    storeArgs = ["--store", ownDatabase];
  }
  await start();
  const created = await cli(["access-key", "create", "--user", "crash-grantee", ...storeArgs]);
  assert.equal(created.code, 0, created.stderr);
  const printed = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string; Arn: string };
  grantee = { accessKeyId: printed.AccessKeyId, secretAccessKey: printed.SecretAccessKey, arn: printed.Arn };
});

after(async () => {
  if (trent && trent.process.exitCode === null && trent.process.signalCode === null) await trent.stop();
  if (ownDatabase !== undefined) await dropDatabase(ownDatabase);
  rmSync(dataDir, { recursive: true, force: true });
});

test(`${CYCLES} kill -9 cycles under load lose nothing any client was told`, { timeout: TIMEOUT_MS }, async (t) => {
  const started = Date.now();
  let responses = 0;
  let cutOff = 0;
  let checks = 0;
  let auditVerified = 0;
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const load = await loadUntilKilled(700 + Math.floor(Math.random() * 1300));
    assert.ok(load.responses > 0, `cycle ${cycle}: the clients got responses before the kill`);
    responses += load.responses;
    cutOff += load.cutOff;
    await start();
    checks += await verifyReceived();
    const check = await cli(["check", ...storeArgs]);
    assert.equal(check.code, 0, `cycle ${cycle}: trent check\n${check.stdout}${check.stderr}`);
    if (existsSync(join(dataDir, "audit"))) {
      const audit = await cli(["audit", "verify"]);
      assert.equal(audit.code, 0, `cycle ${cycle}: trent audit verify\n${audit.stdout}${audit.stderr}`);
      auditVerified++;
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const counts = Object.entries(received)
    .map(([name, items]) => `${(items as unknown[]).length} ${name}`)
    .join(", ");
  t.diagnostic(
    `${CYCLES} cycles on ${testStore().kind} in ${seconds} s: ${responses} responses received (${counts}), ${cutOff} requests cut off by kills, ` +
      `${checks} checks after restarts, trent check passed ${CYCLES} times, trent audit verify ${auditVerified} times`,
  );
});
