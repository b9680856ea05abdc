import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ClientKeys, ensureAdminClientKey } from "../../src/auth/client-keys.js";
import { openDataDirectory } from "../../src/server/trent.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { KeyStore, Principal } from "../../src/store/store.js";

// Every ClientKey must open with independent PKCS#12 readers (OpenSSL, Python `cryptography`) in
// the layout the dkms-gcs SDKs rely on: certificate bag first, then the 3DES-shrouded key, SHA-1 MAC.

const execFileAsync = promisify(execFile);
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const KEY_ID = /^KAAP\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const dir = mkdtempSync(join(tmpdir(), "trent-client-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const store = new SqliteKeyStore(join(dir, "store", "trent.db"));
after(() => store.close());
const principal: Principal = {
  arn: "arn:aws:iam::111122223333:user/alibaba",
  accountId: "111122223333",
  principalId: "AIDAALIBABA",
};
await store.putPrincipal(principal);
const clientKeys = new ClientKeys(store);

let files = 0;
/** Writes a ClientKey's PKCS#12 and password to files for the external tools. */
function pkcs12Files(clientKeyJson: string, password: string): { p12: string; passwordFile: string } {
  const parsed = JSON.parse(clientKeyJson) as { PrivateKeyData: string };
  files++;
  const p12 = join(dir, `key-${files}.p12`);
  const passwordFile = join(dir, `key-${files}.password`);
  writeFileSync(p12, Buffer.from(parsed.PrivateKeyData, "base64"));
  writeFileSync(passwordFile, password);
  return { p12, passwordFile };
}

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] }).toString("utf8");
}

const PYTHON_LOAD = `
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12
data = base64.b64decode(json.load(open(sys.argv[1]))["PrivateKeyData"])
key, cert, extra = pkcs12.load_key_and_certificates(data, open(sys.argv[2], "rb").read())
spki = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(json.dumps({
    "keySize": key.key_size,
    "certMatchesKey": spki(cert.public_key()) == spki(key.public_key()),
    "extraCerts": len(extra),
    "spki": spki(key.public_key()).hex(),
    "signature": key.sign(b"signed by the client", padding.PKCS1v15(), hashes.SHA256()).hex(),
}))
`;

describe("ClientKeys.issue", () => {
  test("writes a ClientKey JSON with a KAAP. key id and a base64 PKCS#12; stores only the public key", async () => {
    const issued = await clientKeys.issue(principal);
    assert.match(issued.keyId, KEY_ID);
    const parsed = JSON.parse(issued.clientKeyJson) as Record<string, string>;
    assert.deepEqual(Object.keys(parsed), ["KeyId", "PrivateKeyData"]);
    assert.equal(parsed.KeyId, issued.keyId);
    assert.match(parsed.PrivateKeyData ?? "", /^[A-Za-z0-9+/]+=*$/);
    assert(issued.password.length >= 24);
    const record = await store.getClientKey(issued.keyId);
    assert.equal(record?.principalArn, principal.arn);
    assert.equal(createPublicKey({ key: record.publicKey, format: "der", type: "spki" }).asymmetricKeyType, "rsa");
    assert.notEqual((await clientKeys.issue(principal)).password, issued.password);
  });

  test("OpenSSL opens it: certificate bag first, then a 3DES-shrouded key bag, SHA-1 MAC; cert and key match", async () => {
    const issued = await clientKeys.issue(principal);
    const { p12 } = pkcs12Files(issued.clientKeyJson, issued.password);
    // OpenSSL reports the MAC and the bags, in file order, on stderr.
    const listing = spawnSync(
      "openssl",
      ["pkcs12", "-info", "-legacy", "-in", p12, "-passin", `pass:${issued.password}`, "-nokeys", "-nocerts"],
      { encoding: "utf8" },
    );
    assert.equal(listing.status, 0, listing.stderr);
    const info = listing.stderr;
    assert.match(info, /MAC: sha1/);
    const certBag = info.indexOf("Certificate bag");
    const keyBag = info.indexOf("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC");
    assert(certBag >= 0 && keyBag > certBag, info);
    assert.equal(info.match(/Certificate bag/g)?.length, 1);
    assert.equal(info.match(/Shrouded Keybag/g)?.length, 1);

    const pems = openssl(["pkcs12", "-legacy", "-in", p12, "-passin", `pass:${issued.password}`, "-nodes"]);
    const cert = pems.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    const key = pems.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)?.[0];
    assert(cert && key);
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key);
    const certPublicKey = openssl(["x509", "-in", certFile, "-noout", "-pubkey"]);
    const keyPublicKey = openssl(["pkey", "-in", keyFile, "-pubout"]);
    assert.equal(certPublicKey, keyPublicKey);
    assert.match(
      openssl(["x509", "-in", certFile, "-noout", "-subject"]),
      new RegExp(issued.keyId.replace(".", "\\.")),
    );
    assert.match(openssl(["pkey", "-in", keyFile, "-noout", "-text"]), /Private-Key: \(2048 bit, 2 primes\)/);

    const found = await clientKeys.lookup(issued.keyId);
    assert(found);
    assert.equal(found.publicKey.export({ type: "spki", format: "pem" }), keyPublicKey);
    // A signature made by OpenSSL with the extracted key verifies under lookup()'s public key.
    const message = join(dir, "message");
    writeFileSync(message, "string to sign");
    const signature = execFileSync("openssl", ["dgst", "-sha256", "-sign", keyFile, message]);
    assert(verify("sha256", Buffer.from("string to sign"), found.publicKey, signature));
    assert(!verify("sha256", Buffer.from("another string"), found.publicKey, signature));
  });

  test("Python cryptography opens it with the password; its key signs what lookup()'s public key verifies", async () => {
    const issued = await clientKeys.issue(principal);
    const { passwordFile } = pkcs12Files(issued.clientKeyJson, issued.password);
    const keyFile = join(dir, "python-client-key.json");
    writeFileSync(keyFile, issued.clientKeyJson);
    const { stdout } = await execFileAsync("python3", ["-c", PYTHON_LOAD, keyFile, passwordFile]);
    const loaded = JSON.parse(stdout) as {
      keySize: number;
      certMatchesKey: boolean;
      extraCerts: number;
      spki: string;
      signature: string;
    };
    assert.equal(loaded.keySize, 2048);
    assert.equal(loaded.certMatchesKey, true);
    assert.equal(loaded.extraCerts, 0);
    const found = await clientKeys.lookup(issued.keyId);
    assert(found);
    assert.equal(found.publicKey.export({ type: "spki", format: "der" }).toString("hex"), loaded.spki);
    const signature = Buffer.from(loaded.signature, "hex");
    assert(verify("sha256", Buffer.from("signed by the client"), found.publicKey, signature));

    writeFileSync(passwordFile, `${issued.password}x`);
    await assert.rejects(execFileAsync("python3", ["-c", PYTHON_LOAD, keyFile, passwordFile]));
  });
});

describe("ClientKeys.lookup", () => {
  test("returns the principal's identity with the client key id as access key id", async () => {
    const issued = await clientKeys.issue(principal);
    const found = await clientKeys.lookup(issued.keyId);
    assert.deepEqual(found?.identity, {
      principalArn: principal.arn,
      principalId: principal.principalId,
      accountId: principal.accountId,
      accessKeyId: issued.keyId,
    });
    assert.equal(found?.publicKey.type, "public");
  });

  test("is undefined for unknown ids and for keys whose principal is gone", async () => {
    assert.equal(await clientKeys.lookup("KAAP.00000000-0000-4000-8000-000000000000"), undefined);
    assert.equal(await clientKeys.lookup(""), undefined);
    const issued = await clientKeys.issue(principal);
    const withoutPrincipal = Object.assign(Object.create(store) as KeyStore, {
      getPrincipal: async () => undefined,
    });
    assert.equal(await new ClientKeys(withoutPrincipal).lookup(issued.keyId), undefined);
  });

  test("fails once the key is deleted", async () => {
    const issued = await clientKeys.issue(principal);
    assert(await clientKeys.lookup(issued.keyId));
    assert.equal(await store.deleteClientKey(issued.keyId), true);
    assert.equal(await clientKeys.lookup(issued.keyId), undefined);
  });
});

describe("ensureAdminClientKey", () => {
  test("writes the admin's ClientKey and password (0600) once, and again only when the ClientKey file is gone", async () => {
    const dataDir = join(dir, "data-admin");
    const data = await openDataDirectory(dataDir, undefined, "444455556666");
    try {
      await ensureAdminClientKey(data, dataDir);
      const keyFile = join(dataDir, "alibaba-client-key.json");
      const passwordFile = join(dataDir, "alibaba-client-key.password");
      for (const file of [keyFile, passwordFile]) assert.equal(statSync(file).mode & 0o777, 0o600);
      const first = JSON.parse(readFileSync(keyFile, "utf8")) as { KeyId: string };
      const found = await new ClientKeys(data.store).lookup(first.KeyId);
      assert.equal(found?.identity.principalArn, "arn:aws:iam::444455556666:user/admin");
      const { stdout } = await execFileAsync("python3", ["-c", PYTHON_LOAD, keyFile, passwordFile]);
      assert.equal((JSON.parse(stdout) as { certMatchesKey: boolean }).certMatchesKey, true);

      await ensureAdminClientKey(data, dataDir);
      assert.equal((JSON.parse(readFileSync(keyFile, "utf8")) as { KeyId: string }).KeyId, first.KeyId);
      rmSync(keyFile);
      await ensureAdminClientKey(data, dataDir);
      assert.notEqual((JSON.parse(readFileSync(keyFile, "utf8")) as { KeyId: string }).KeyId, first.KeyId);
    } finally {
      await data.store.close();
    }
  });
});

describe("trent client-key", () => {
  const dataDir = join(dir, "data-cli");
  const trent = async (...args: string[]) =>
    (await execFileAsync(process.execPath, [CLI, "client-key", ...args, "--data", dataDir])).stdout;

  test("create writes the ClientKey and password files (0600); list shows it; delete removes it", async () => {
    const created = JSON.parse(await trent("create", "--role", "app")) as Record<string, string>;
    assert.match(created.KeyId ?? "", KEY_ID);
    assert.match(created.Arn ?? "", /^arn:aws:iam::\d{12}:role\/app$/);
    assert.equal(created.ClientKeyFile, join(dataDir, `client-key-${created.KeyId}.json`));
    assert.equal(created.PasswordFile, join(dataDir, `client-key-${created.KeyId}.password`));
    for (const file of [created.ClientKeyFile, created.PasswordFile]) {
      assert.equal(statSync(file ?? "").mode & 0o777, 0o600);
    }
    const { stdout } = await execFileAsync("python3", [
      "-c",
      PYTHON_LOAD,
      created.ClientKeyFile ?? "",
      created.PasswordFile ?? "",
    ]);
    assert.equal((JSON.parse(stdout) as { keySize: number }).keySize, 2048);

    const out = join(dir, "elsewhere.json");
    const other = JSON.parse(
      await trent("create", "--user", "someone", "--account-id", "777788889999", "--out", out),
    ) as Record<string, string>;
    assert.equal(other.Arn, "arn:aws:iam::777788889999:user/someone");
    assert.equal(other.ClientKeyFile, out);
    assert.equal(other.PasswordFile, join(dir, "elsewhere.password"));
    assert.equal(JSON.parse(readFileSync(out, "utf8")).KeyId, other.KeyId);

    const all = await trent("list");
    assert.match(all, new RegExp(`^${created.KeyId}\\t${created.Arn}\\t`, "m"));
    assert.match(all, new RegExp(`^${other.KeyId}\\t${other.Arn}\\t`, "m"));
    const apps = await trent("list", "--role", "app");
    assert.match(apps, new RegExp(`^${created.KeyId}\\t`, "m"));
    assert(!apps.includes(other.KeyId ?? ""));
    assert.equal(await trent("list", "--role", "nobody"), "");

    await trent("delete", created.KeyId ?? "");
    assert(!(await trent("list")).includes(created.KeyId ?? ""));
    await assert.rejects(trent("delete", created.KeyId ?? ""), /no client key/);
    await assert.rejects(trent("create"), /exactly one of --user NAME or --role NAME/);
  });
});
