import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  constants,
  createDecipheriv,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  randomBytes,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { envelopeForRecipient } from "../../src/crypto/cms-envelope.js";
import { nitroFixturesDir } from "../support/nitro-fixtures.js";

function fixture(n: number): Buffer {
  return readFileSync(join(nitroFixturesDir(), `kms_ciphertext_for_recipient_${n}.ber`));
}

/** One BER element as a minimal walker sees it (X.690 8.1), independent of src/. */
interface Node {
  readonly tag: number;
  readonly constructed: boolean;
  readonly indefinite: boolean;
  /** Bytes used by the length octets (1 = short form or indefinite). */
  readonly lengthOctets: number;
  readonly headerStart: number;
  readonly contentStart: number;
  readonly contentEnd: number;
  readonly children: Node[];
}

function parse(ber: Buffer, offset: number): { node: Node; next: number } {
  const tag = ber[offset];
  const first = ber[offset + 1];
  if (tag === undefined || first === undefined) throw new Error(`truncated at ${offset}`);
  assert.notEqual(tag & 0x1f, 0x1f, "no high tag numbers expected");
  const constructed = (tag & 0x20) !== 0;
  let contentStart = offset + 2;
  let length = -1;
  let lengthOctets = 1;
  if (first < 0x80) length = first;
  else if (first > 0x80) {
    lengthOctets += first - 0x80;
    length = 0;
    for (let i = 0; i < first - 0x80; i++) length = length * 256 + (ber[contentStart + i] ?? Number.NaN);
    contentStart += first - 0x80;
  }
  const children: Node[] = [];
  if (length < 0) {
    assert.ok(constructed, "indefinite length only on constructed elements");
    let at = contentStart;
    while (!(ber[at] === 0 && ber[at + 1] === 0)) {
      const child = parse(ber, at);
      children.push(child.node);
      at = child.next;
      if (at >= ber.length) throw new Error("missing end-of-contents");
    }
    const node = {
      tag,
      constructed,
      indefinite: true,
      lengthOctets,
      headerStart: offset,
      contentStart,
      contentEnd: at,
      children,
    };
    return { node, next: at + 2 };
  }
  const contentEnd = contentStart + length;
  if (contentEnd > ber.length) throw new Error(`element at ${offset} overruns`);
  if (constructed) {
    let at = contentStart;
    while (at < contentEnd) {
      const child = parse(ber, at);
      children.push(child.node);
      at = child.next;
    }
    assert.equal(at, contentEnd, `children of element at ${offset} overrun it`);
  }
  const node = {
    tag,
    constructed,
    indefinite: false,
    lengthOctets,
    headerStart: offset,
    contentStart,
    contentEnd,
    children,
  };
  return { node, next: contentEnd };
}

function parseAll(ber: Buffer): Node {
  const { node, next } = parse(ber, 0);
  assert.equal(next, ber.length, "trailing bytes after the ContentInfo");
  return node;
}

/** Tag, form and length of every element, depth first, e.g. "2 30 inf" or "5 04 def2 1000". */
function skeleton(node: Node, depth = 0, out: string[] = []): string[] {
  const form = node.indefinite ? "inf" : `def${node.lengthOctets}`;
  const length = node.indefinite ? "" : ` ${node.contentEnd - node.contentStart}`;
  out.push(`${depth} ${node.tag.toString(16).padStart(2, "0")} ${form}${length}`);
  for (const child of node.children) skeleton(child, depth + 1, out);
  return out;
}

/** The bytes with every OCTET STRING and the [0] subjectKeyIdentifier zeroed: what is left is fixed. */
function masked(ber: Buffer): Buffer {
  const copy = Buffer.from(ber);
  const visit = (node: Node): void => {
    if (!node.constructed && (node.tag === 0x04 || node.tag === 0x80)) copy.fill(0, node.contentStart, node.contentEnd);
    node.children.forEach(visit);
  };
  visit(parseAll(ber));
  return copy;
}

function child(node: Node | undefined, ...path: number[]): Node {
  let at = node;
  for (const index of path) at = at?.children[index];
  if (!at) throw new Error(`no element at ${path.join(".")}`);
  return at;
}

/** Decrypts by walking the structure with Node's crypto; checks the fixed parts on the way. */
function open(ber: Buffer, privateKey: KeyObject): { plaintext: Buffer; subjectKeyIdentifier: Buffer; iv: Buffer } {
  const contentInfo = parseAll(ber);
  const bytes = (node: Node) => ber.subarray(node.contentStart, node.contentEnd);
  assert.equal(bytes(child(contentInfo, 0)).toString("hex"), "2a864886f70d010703");
  const envelopedData = child(contentInfo, 1, 0);
  assert.equal(bytes(child(envelopedData, 0)).toString("hex"), "02");
  const recipientInfos = child(envelopedData, 1);
  assert.equal(recipientInfos.children.length, 1);
  const ktri = child(recipientInfos, 0);
  assert.equal(bytes(child(ktri, 0)).toString("hex"), "02");
  assert.equal(bytes(child(ktri, 2, 0)).toString("hex"), "2a864886f70d010107");
  const encryptedKey = bytes(child(ktri, 3));
  const eci = child(envelopedData, 2);
  assert.equal(bytes(child(eci, 0)).toString("hex"), "2a864886f70d010701");
  assert.equal(bytes(child(eci, 1, 0)).toString("hex"), "60864801650304012a");
  const iv = bytes(child(eci, 1, 1));
  const ciphertext = Buffer.concat(child(eci, 2).children.map(bytes));
  const contentKey = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    encryptedKey,
  );
  const decipher = createDecipheriv("aes-256-cbc", contentKey, iv);
  const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  return { plaintext, subjectKeyIdentifier: bytes(child(ktri, 1)), iv };
}

const work = mkdtempSync(join(tmpdir(), "trent-cms-envelope-"));
after(() => rmSync(work, { recursive: true, force: true }));

const rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 });
const LENGTHS = [0, 1, 32, 999, 1000, 1001, 4096, 4112];

function paddedLength(plaintextLength: number): number {
  return (Math.floor(plaintextLength / 16) + 1) * 16;
}

describe("the KMS fixtures", () => {
  test("have the layout the expectations below are built from", () => {
    const expectedChunks = new Map([
      [1, [16]],
      [2, [48]],
      [4, [1000, 1000, 1000, 1000, 112]],
    ]);
    for (const [n, chunks] of expectedChunks) {
      const root = parseAll(fixture(n));
      const content = child(root, 1, 0, 2, 2);
      assert.equal(content.tag, 0xa0);
      assert.ok(content.indefinite);
      assert.deepEqual(
        content.children.map((c) => [c.tag, c.contentEnd - c.contentStart]),
        chunks.map((length) => [0x04, length]),
      );
      assert.equal(child(root, 1, 0, 1, 0, 1).contentEnd - child(root, 1, 0, 1, 0, 1).contentStart, 32);
    }
    // #3 (an older KMS response) carries the content as one primitive [0]; the others are chunked.
    assert.equal(child(parseAll(fixture(3)), 1, 0, 2, 2).tag, 0x80);
  });
});

describe("envelopeForRecipient", () => {
  const fixture4 = skeleton(parseAll(fixture(4)));
  // The chunks are the children of encryptedContent [0], the one indefinite element at depth 4.
  const before = fixture4.slice(0, fixture4.indexOf("4 a0 inf") + 1);
  const chunkCount = fixture4.slice(before.length).findIndex((line) => !line.startsWith("5 04 "));
  const afterChunks = chunkCount < 0 ? [] : fixture4.slice(before.length + chunkCount);

  for (const length of LENGTHS) {
    test(`a ${length}-byte plaintext has the KMS skeleton and decrypts`, () => {
      const plaintext = randomBytes(length);
      const ber = envelopeForRecipient(plaintext, rsa2048.publicKey);
      const contentLength = paddedLength(length);
      const chunks: string[] = [];
      for (let left = contentLength; left > 0; left -= 1000) {
        const size = Math.min(left, 1000);
        chunks.push(`5 04 def${size < 0x80 ? 1 : size < 0x100 ? 2 : 3} ${size}`);
      }
      assert.deepEqual(skeleton(parseAll(ber)), [...before, ...chunks, ...afterChunks]);

      const { plaintext: opened, subjectKeyIdentifier } = open(ber, rsa2048.privateKey);
      assert.deepEqual(opened, plaintext);
      const spki = rsa2048.publicKey.export({ type: "spki", format: "der" });
      assert.deepEqual(subjectKeyIdentifier, createHash("sha256").update(spki).digest());
    });
  }

  test("matches the KMS bytes exactly apart from key, IV and ciphertext", () => {
    for (const [length, n] of [
      [0, 1],
      [15, 1],
      [32, 2],
      [4096, 4],
    ] as const) {
      const ber = envelopeForRecipient(randomBytes(length), rsa2048.publicKey);
      assert.equal(ber.length, fixture(n).length);
      assert.deepEqual(masked(ber), masked(fixture(n)), `${length} bytes against fixture #${n}`);
    }
  });

  test("uses a fresh content key and IV every call", () => {
    const plaintext = Buffer.from("same plaintext");
    const a = envelopeForRecipient(plaintext, rsa2048.publicKey);
    const b = envelopeForRecipient(plaintext, rsa2048.publicKey);
    assert.notDeepEqual(open(a, rsa2048.privateKey).iv, open(b, rsa2048.privateKey).iv);
    assert.notDeepEqual(a.subarray(-40), b.subarray(-40));
  });

  test("works for a 4096-bit recipient", () => {
    const rsa4096 = generateKeyPairSync("rsa", { modulusLength: 4096 });
    const plaintext = randomBytes(100);
    const ber = envelopeForRecipient(plaintext, rsa4096.publicKey);
    assert.deepEqual(open(ber, rsa4096.privateKey).plaintext, plaintext);
    assert.deepEqual(opensslDecrypt(ber, rsa4096.privateKey), plaintext);
  });

  test("refuses a key that is not an RSA public key", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    assert.throws(() => envelopeForRecipient(Buffer.of(1), ec.publicKey), TypeError);
    assert.throws(() => envelopeForRecipient(Buffer.of(1), rsa2048.privateKey), TypeError);
  });
});

let files = 0;
function opensslDecrypt(ber: Buffer, privateKey: KeyObject): Buffer {
  const n = files++;
  const input = join(work, `in${n}.ber`);
  const key = join(work, `key${n}.pem`);
  writeFileSync(input, ber);
  writeFileSync(key, privateKey.export({ type: "pkcs8", format: "pem" }));
  // Without a certificate OpenSSL tries the key on every recipient, so the SKI need not match one.
  return execFileSync("openssl", ["cms", "-decrypt", "-inform", "DER", "-in", input, "-inkey", key, "-binary"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("OpenSSL (independent) opens the envelope", () => {
  for (const length of LENGTHS) {
    test(`${length} bytes`, () => {
      const plaintext = randomBytes(length);
      assert.deepEqual(
        opensslDecrypt(envelopeForRecipient(plaintext, rsa2048.publicKey), rsa2048.privateKey),
        plaintext,
      );
    });
  }

  test("and rejects it for another key", () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const plaintext = randomBytes(64);
    const ber = envelopeForRecipient(plaintext, rsa2048.publicKey);
    // OpenSSL hides RSA failures behind a random content key, so "fails" may also mean garbage.
    let opened: Buffer | undefined;
    try {
      opened = opensslDecrypt(ber, other.privateKey);
    } catch {
      opened = undefined;
    }
    assert.notDeepEqual(opened, plaintext);
  });
});
