import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import {
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
import { afterEach, beforeEach, describe, test } from "node:test";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { loadTlsMaterial } from "../../src/server/tls.js";
import { writeFileAtomically } from "../../src/store/atomic-file.js";

// The files Trent keeps beside its store, as a crash may leave them: the next start needs no hand.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "trent-files-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("writing a file atomically", () => {
  test("replaces the file whole, with its mode, and leaves no temporary file", () => {
    const file = join(dir, "credentials");
    writeFileSync(file, "old", { mode: 0o644 });
    writeFileAtomically(file, "new content\n", { mode: 0o600 });
    assert.equal(readFileSync(file, "utf8"), "new content\n");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["credentials"]);
  });

  test("exclusive: refuses to replace a file that exists, and leaves it as it was", () => {
    const file = join(dir, "root.key");
    writeFileAtomically(file, "first", { mode: 0o600, exclusive: true });
    assert.throws(() => writeFileAtomically(file, "second", { mode: 0o600, exclusive: true }), { code: "EEXIST" });
    assert.equal(readFileSync(file, "utf8"), "first");
    assert.deepEqual(readdirSync(dir), ["root.key"]);
  });

  test("a root key file is created once, then loaded", () => {
    const file = join(dir, "root.key");
    const first = KeyFileRoot.openOrCreate(file);
    const second = KeyFileRoot.openOrCreate(file);
    assert.deepEqual([first.created, second.created], [true, false]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});

describe("TLS material after an unclean stop", () => {
  const options = { hostNames: [] };
  const certOf = (material: { cert: string }) => new X509Certificate(material.cert);

  test("a CA key without its certificate (a first start stopped between the two) is replaced", () => {
    writeFileSync(join(dir, "ca-key.pem"), "-----BEGIN RSA PRIVATE KEY-----\ntruncated", { mode: 0o600 });
    const material = loadTlsMaterial(dir, options);
    assert.ok(certOf(material).checkIssued(new X509Certificate(readFileSync(join(dir, "ca.pem")))));
  });

  test("a CA certificate without its key is still refused: clients may trust it, and only its key can sign", () => {
    loadTlsMaterial(dir, options);
    rmSync(join(dir, "ca-key.pem"));
    assert.throws(() => loadTlsMaterial(dir, options), /go together/);
  });

  test("a server certificate cut short, or one that does not match its key, is issued again", () => {
    const first = loadTlsMaterial(dir, options);
    assert.deepEqual(loadTlsMaterial(dir, options), first, "a good pair is kept");
    writeFileSync(join(dir, "tls-cert.pem"), first.cert.slice(0, 100));
    const reissued = loadTlsMaterial(dir, options);
    assert.notEqual(reissued.cert, first.cert);
    assert.ok(certOf(reissued).checkPrivateKey(createPrivateKey(reissued.key)));

    const other = join(dir, "other");
    mkdirSync(other);
    loadTlsMaterial(other, options);
    writeFileSync(join(dir, "tls-key.pem"), readFileSync(join(other, "tls-key.pem")));
    const matched = loadTlsMaterial(dir, options);
    assert.notEqual(matched.cert, reissued.cert);
    assert.ok(certOf(matched).checkPrivateKey(createPrivateKey(matched.key)));
    assert.ok(existsSync(join(dir, "ca.pem")));
  });
});
