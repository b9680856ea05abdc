import assert from "node:assert/strict";
import { createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import {
  CIPHERTEXT_FORMAT_VERSION,
  type CiphertextHeader,
  decryptBlob,
  encryptBlob,
  KEY_TYPE_SYMMETRIC_AES_256_GCM,
  MalformedCiphertextError,
  parseBlobHeader,
} from "../../src/crypto/ciphertext.js";
import { type EncryptionContext, encodeEncryptionContext } from "../../src/crypto/encryption-context.js";

const BACKING_KEY = randomBytes(32);
const HEADER: CiphertextHeader = { keyId: "1234abcd-12ab-34cd-56ef-1234567890ab", keyVersion: 7 };
const CONTEXT: EncryptionContext = { Department: "Finance", purpose: "unit test" };
const ENCODED_CONTEXT = encodeEncryptionContext(CONTEXT);
const PLAINTEXT = Buffer.from("attack at dawn, bring snacks", "utf8");

// version(1) keyType(1) keyIdLength(1) keyId(36) keyVersion(4) salt(32) iv(12) body(n) tag(16)
const KEY_ID_LENGTH = HEADER.keyId.length;
const HEADER_BYTES = 3 + KEY_ID_LENGTH + 4 + 32 + 12;
const TAG_BYTES = 16;

/** What the server does with a blob: parse the header, find the key it names, authenticate. */
function open(blob: Uint8Array, encodedContext: Buffer = ENCODED_CONTEXT): Buffer {
  const header = parseBlobHeader(blob);
  if (header.keyId !== HEADER.keyId || header.keyVersion !== HEADER.keyVersion) {
    throw new MalformedCiphertextError("names another key");
  }
  return decryptBlob(BACKING_KEY, blob, encodedContext);
}

function sealed(plaintext: Uint8Array = PLAINTEXT, encodedContext: Buffer = ENCODED_CONTEXT): Buffer {
  return encryptBlob(BACKING_KEY, HEADER, plaintext, encodedContext);
}

function flipped(blob: Buffer, bit: number): Buffer {
  const copy = Buffer.from(blob);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

/** Runs `attempt` and returns what it threw (or "accepted"), for reporting every failing case at once. */
function outcome(attempt: () => unknown): string {
  try {
    attempt();
    return "accepted";
  } catch (error) {
    return error instanceof MalformedCiphertextError
      ? "malformed"
      : `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe("ciphertext blob", () => {
  test("encryptBlob lays out the documented header and a 16-byte tag", () => {
    const blob = sealed();
    assert.equal(blob.length, HEADER_BYTES + PLAINTEXT.length + TAG_BYTES);
    assert.equal(blob[0], CIPHERTEXT_FORMAT_VERSION);
    assert.equal(blob[1], KEY_TYPE_SYMMETRIC_AES_256_GCM);
    assert.equal(blob[2], KEY_ID_LENGTH);
    assert.equal(blob.toString("ascii", 3, 3 + KEY_ID_LENGTH), HEADER.keyId);
    assert.equal(blob.readUInt32BE(3 + KEY_ID_LENGTH), HEADER.keyVersion);
    assert.equal(blob.indexOf(PLAINTEXT), -1, "the plaintext must not appear in the blob");
  });

  test("the per-ciphertext key is HKDF-SHA256(backing key, salt, header up to the salt), as documented", () => {
    // Decrypted here with the documented derivation alone, so blobs stay readable by it whatever
    // the implementation of the derivation becomes.
    const blob = sealed();
    const saltStart = 3 + KEY_ID_LENGTH + 4;
    const salt = blob.subarray(saltStart, saltStart + 32);
    const key = Buffer.from(hkdfSync("sha256", BACKING_KEY, salt, blob.subarray(0, saltStart), 32));
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(saltStart + 32, HEADER_BYTES));
    decipher.setAAD(blob.subarray(0, HEADER_BYTES));
    decipher.setAAD(ENCODED_CONTEXT);
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    const plaintext = Buffer.concat([
      decipher.update(blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES)),
      decipher.final(),
    ]);
    assert.deepEqual(plaintext, PLAINTEXT);
  });

  test("round trip: parseBlobHeader names the key and decryptBlob returns the plaintext", () => {
    for (const length of [1, 16, 100, 4096]) {
      const plaintext = randomBytes(length);
      const blob = sealed(plaintext);
      assert.deepEqual(parseBlobHeader(blob), HEADER);
      assert.deepEqual(decryptBlob(BACKING_KEY, blob, ENCODED_CONTEXT), plaintext);
    }
  });

  test("round trip with the shortest and longest key ids and the extreme key versions", () => {
    for (const header of [
      { keyId: "k", keyVersion: 1 },
      { keyId: "x".repeat(255), keyVersion: 0x7fffffff },
    ]) {
      const blob = encryptBlob(BACKING_KEY, header, PLAINTEXT, ENCODED_CONTEXT);
      assert.deepEqual(parseBlobHeader(blob), header);
      assert.deepEqual(decryptBlob(BACKING_KEY, blob, ENCODED_CONTEXT), PLAINTEXT);
    }
  });

  test("key versions outside 1 … 2^31-1 are never issued, and a blob naming one is malformed", () => {
    for (const keyVersion of [0, 0x80000000, 0xffffffff]) {
      assert.throws(() => encryptBlob(BACKING_KEY, { keyId: "k", keyVersion }, PLAINTEXT, ENCODED_CONTEXT), RangeError);
      const blob = encryptBlob(BACKING_KEY, { keyId: "k", keyVersion: 1 }, PLAINTEXT, ENCODED_CONTEXT);
      blob.writeUInt32BE(keyVersion, 4);
      assert.throws(() => parseBlobHeader(blob), MalformedCiphertextError);
    }
  });

  test("encryptBlob refuses an empty key id or one longer than 255 bytes", () => {
    assert.throws(() => encryptBlob(BACKING_KEY, { keyId: "", keyVersion: 1 }, PLAINTEXT, ENCODED_CONTEXT), RangeError);
    assert.throws(
      () => encryptBlob(BACKING_KEY, { keyId: "x".repeat(256), keyVersion: 1 }, PLAINTEXT, ENCODED_CONTEXT),
      RangeError,
    );
  });

  test("decrypts a blob that is a view into a larger buffer", () => {
    const blob = sealed();
    const surrounding = Buffer.concat([Buffer.from("junk before"), blob, Buffer.from("junk after")]);
    const view = new Uint8Array(surrounding.buffer, surrounding.byteOffset + 11, blob.length);
    assert.deepEqual(parseBlobHeader(view), HEADER);
    assert.deepEqual(decryptBlob(BACKING_KEY, view, ENCODED_CONTEXT), PLAINTEXT);
  });

  test("two encryptions of the same plaintext differ (fresh salt and IV), and both decrypt", () => {
    const a = sealed();
    const b = sealed();
    assert.notDeepEqual(a, b);
    const salt = (blob: Buffer) => blob.subarray(HEADER_BYTES - 44, HEADER_BYTES - 12);
    const iv = (blob: Buffer) => blob.subarray(HEADER_BYTES - 12, HEADER_BYTES);
    const body = (blob: Buffer) => blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES);
    assert.notDeepEqual(salt(a), salt(b));
    assert.notDeepEqual(iv(a), iv(b));
    assert.notDeepEqual(body(a), body(b));
    assert.deepEqual(open(a), PLAINTEXT);
    assert.deepEqual(open(b), PLAINTEXT);
  });

  test("another backing key fails with MalformedCiphertextError", () => {
    assert.throws(() => decryptBlob(randomBytes(32), sealed(), ENCODED_CONTEXT), MalformedCiphertextError);
  });

  test("parseBlobHeader rejects a blob too short for its header and tag, or of an unknown format", () => {
    const blob = sealed();
    const withByte = (index: number, value: number) => {
      const copy = Buffer.from(blob);
      copy[index] = value;
      return copy;
    };
    for (const bad of [
      Buffer.alloc(0),
      blob.subarray(0, 2),
      blob.subarray(0, HEADER_BYTES + TAG_BYTES - 1),
      withByte(0, 2),
      withByte(0, 0),
      withByte(1, 2),
      withByte(2, 0),
      withByte(2, 255),
    ]) {
      assert.throws(() => parseBlobHeader(bad), MalformedCiphertextError);
    }
    // A blob with an empty body (no valid plaintext has one) still parses; decryptBlob decides.
    assert.deepEqual(parseBlobHeader(blob.subarray(0, HEADER_BYTES + TAG_BYTES)), HEADER);
  });

  test("every single bit flip fails with MalformedCiphertextError (header parse + authenticate, as the server does)", () => {
    const blob = sealed();
    const failures: string[] = [];
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const result = outcome(() => open(flipped(blob, bit)));
      if (result !== "malformed") failures.push(`bit ${bit} (byte ${bit >> 3}): ${result}`);
    }
    assert.deepEqual(failures, []);
  });

  test("every truncation, and an appended byte, fails with MalformedCiphertextError", () => {
    const blob = sealed();
    const failures: string[] = [];
    for (let length = 0; length < blob.length; length++) {
      const result = outcome(() => open(blob.subarray(0, length)));
      if (result !== "malformed") failures.push(`truncated to ${length}: ${result}`);
    }
    for (const extra of [0x00, 0x01, 0xff]) {
      const result = outcome(() => open(Buffer.concat([blob, Buffer.from([extra])])));
      if (result !== "malformed") failures.push(`appended ${extra}: ${result}`);
    }
    assert.deepEqual(failures, []);
  });

  test("decryptBlob alone fails with MalformedCiphertextError for every bit flip and truncation", () => {
    const blob = sealed();
    const failures: string[] = [];
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const result = outcome(() => decryptBlob(BACKING_KEY, flipped(blob, bit), ENCODED_CONTEXT));
      if (result !== "malformed") failures.push(`bit ${bit}: ${result}`);
    }
    for (let length = 0; length < blob.length; length++) {
      const result = outcome(() => decryptBlob(BACKING_KEY, blob.subarray(0, length), ENCODED_CONTEXT));
      if (result !== "malformed") failures.push(`truncated to ${length}: ${result}`);
    }
    assert.deepEqual(failures, []);
  });
});

describe("encryption context binding", () => {
  test("encodeEncryptionContext is independent of pair order", () => {
    const a = encodeEncryptionContext({ a: "1", b: "2", c: "3" });
    const b = encodeEncryptionContext({ c: "3", a: "1", b: "2" });
    assert.deepEqual(a, b);
  });

  test("encodeEncryptionContext is case-sensitive in keys and values", () => {
    const base = encodeEncryptionContext({ Purpose: "Test" });
    assert.notDeepEqual(encodeEncryptionContext({ purpose: "Test" }), base);
    assert.notDeepEqual(encodeEncryptionContext({ Purpose: "test" }), base);
  });

  test("encodeEncryptionContext is unambiguous: shifting bytes between key and value, or between pairs, changes it", () => {
    const encodings = [
      { ab: "c" },
      { a: "bc" },
      { a: "b", c: "" },
      { a: "", bc: "" },
      { "a\u0000": "b" },
      {},
      { "": "" },
    ].map((context) => encodeEncryptionContext(context).toString("hex"));
    assert.equal(new Set(encodings).size, encodings.length);
  });

  test("no context and an empty context encode alike", () => {
    assert.deepEqual(encodeEncryptionContext(undefined), encodeEncryptionContext({}));
  });

  test("a blob decrypts with the same context given in another order", () => {
    const blob = sealed();
    assert.deepEqual(open(blob, encodeEncryptionContext({ purpose: "unit test", Department: "Finance" })), PLAINTEXT);
  });

  test("a missing, extra, wrong-case or wrong-valued context fails with MalformedCiphertextError", () => {
    const blob = sealed();
    for (const context of [
      undefined,
      {},
      { Department: "Finance" },
      { ...CONTEXT, extra: "x" },
      { department: "Finance", purpose: "unit test" },
      { Department: "finance", purpose: "unit test" },
      { Department: "Finance", purpose: "unit tests" },
      { Department: "Finance", Purpose: "unit test" },
    ]) {
      assert.throws(
        () => open(blob, encodeEncryptionContext(context)),
        MalformedCiphertextError,
        JSON.stringify(context),
      );
    }
  });

  test("a blob sealed without context opens only without context", () => {
    const blob = sealed(PLAINTEXT, encodeEncryptionContext(undefined));
    assert.deepEqual(open(blob, encodeEncryptionContext({})), PLAINTEXT);
    assert.throws(() => open(blob, encodeEncryptionContext({ a: "" })), MalformedCiphertextError);
  });
});
