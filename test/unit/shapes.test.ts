import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SerializationException, ValidationException } from "../../src/domain/errors.js";
import { decodeInput, OPERATIONS, TARGET_PREFIX, toWire } from "../../src/protocol/aws/shapes.js";

const KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab";
const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");

/** The decoded input of an operation, looked up by its API name as the edge does. */
function decode(operation: string, body: unknown): Record<string, unknown> {
  const model = OPERATIONS[operation];
  assert.ok(model, `no operation ${operation} in the model`);
  return decodeInput(model.input, body);
}

function validationMessage(operation: string, body: unknown): string {
  try {
    decode(operation, body);
  } catch (error) {
    assert.ok(error instanceof ValidationException, `expected ValidationException, got ${String(error)}`);
    assert.equal(error.code, "ValidationException");
    assert.equal(error.status, 400);
    return error.message;
  }
  assert.fail(`${operation} ${JSON.stringify(body)} was accepted`);
}

function assertSerializationException(operation: string, body: unknown): void {
  assert.throws(
    () => decode(operation, body),
    (error: unknown) => error instanceof SerializationException && error.code === "SerializationException",
    `${operation} ${JSON.stringify(body)}`,
  );
}

describe("the model", () => {
  test("is KMS's: TrentService prefix and the crypto operations Trent implements", () => {
    assert.equal(TARGET_PREFIX, "TrentService");
    for (const name of [
      "Encrypt",
      "Decrypt",
      "ReEncrypt",
      "GenerateDataKey",
      "GenerateDataKeyPair",
      "GenerateRandom",
    ]) {
      assert.equal(OPERATIONS[name]?.input, `${name}Request`);
    }
  });
});

describe("decodeInput: valid input", () => {
  test("decodes base64 blobs to bytes and keeps strings, maps, lists and booleans", () => {
    const plaintext = Buffer.from([0, 1, 2, 250, 255]);
    const input = decode("Encrypt", {
      KeyId: KEY_ID,
      Plaintext: b64(plaintext),
      EncryptionContext: { Purpose: "test", "": "" },
      GrantTokens: ["token-1", "token-2"],
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      DryRun: false,
    });
    assert.ok(input.Plaintext instanceof Uint8Array);
    assert.deepEqual(Buffer.from(input.Plaintext as Uint8Array), plaintext);
    assert.equal(input.KeyId, KEY_ID);
    assert.deepEqual({ ...(input.EncryptionContext as object) }, { Purpose: "test", "": "" });
    assert.deepEqual(input.GrantTokens, ["token-1", "token-2"]);
    assert.equal(input.DryRun, false);
  });

  test("decodes blobs at their length limits (Plaintext 1 and 4096 bytes, CiphertextBlob 6144 bytes)", () => {
    for (const length of [1, 4096]) {
      const input = decode("Encrypt", { KeyId: KEY_ID, Plaintext: b64(Buffer.alloc(length, 7)) });
      assert.equal((input.Plaintext as Uint8Array).length, length);
    }
    const input = decode("Decrypt", { CiphertextBlob: b64(Buffer.alloc(6144, 1)) });
    assert.equal((input.CiphertextBlob as Uint8Array).length, 6144);
  });

  test("treats null members as absent", () => {
    const input = decode("GenerateDataKey", { KeyId: KEY_ID, KeySpec: "AES_256", NumberOfBytes: null });
    assert.equal("NumberOfBytes" in input, false);
  });

  test("decodes an empty body of an operation whose members are all optional", () => {
    assert.deepEqual(decode("ListKeys", {}), {});
  });

  test("accepts integers at the range bounds", () => {
    assert.equal(decode("GenerateRandom", { NumberOfBytes: 1 }).NumberOfBytes, 1);
    assert.equal(decode("GenerateRandom", { NumberOfBytes: 1024 }).NumberOfBytes, 1024);
  });
});

describe("decodeInput: constraint violations are ValidationException, phrased as AWS does", () => {
  test("a blob over its maximum length: the value is omitted ('Value at')", () => {
    assert.equal(
      validationMessage("Encrypt", { KeyId: KEY_ID, Plaintext: b64(Buffer.alloc(4097)) }),
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
  });

  test("a blob under its minimum length", () => {
    assert.equal(
      validationMessage("Encrypt", { KeyId: KEY_ID, Plaintext: "" }),
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    assert.equal(
      validationMessage("Decrypt", { CiphertextBlob: b64(Buffer.alloc(6145)) }),
      "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
    );
  });

  test("an integer below or above its range", () => {
    assert.equal(
      validationMessage("GenerateRandom", { NumberOfBytes: 0 }),
      "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert.equal(
      validationMessage("GenerateRandom", { NumberOfBytes: 1025 }),
      "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
  });

  test("a missing required member", () => {
    assert.equal(
      validationMessage("Encrypt", { Plaintext: b64("x") }),
      "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
  });

  test("a string over its maximum length shows the value", () => {
    const keyId = "k".repeat(2049);
    assert.equal(
      validationMessage("DescribeKey", { KeyId: keyId }),
      `1 validation error detected: Value '${keyId}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048`,
    );
    assert.equal(
      validationMessage("DescribeKey", { KeyId: "" }),
      "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  });

  test("a string failing its pattern", () => {
    assert.equal(
      validationMessage("CreateAlias", { AliasName: "alias/a b", TargetKeyId: KEY_ID }),
      "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    );
  });

  test("a value outside an enum lists the allowed values", () => {
    const message = validationMessage("CreateKey", { KeyUsage: "RANDOM" });
    const prefix =
      "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [";
    assert.ok(message.startsWith(prefix), message);
    assert.ok(message.endsWith("]"), message);
    // AWS's own order is internal; the set is what matters.
    assert.deepEqual(
      message.slice(prefix.length, -1).split(", ").sort(),
      ["ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "SIGN_VERIFY"].sort(),
    );
    const keySpec = validationMessage("GenerateDataKey", { KeyId: KEY_ID, KeySpec: "AES_512" });
    assert.match(keySpec, /^1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: /);
  });

  test("a list over its maximum length (11 grant tokens)", () => {
    const tokens = Array.from({ length: 11 }, (_, i) => `token-${i}`);
    const message = validationMessage("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), GrantTokens: tokens });
    assert.match(message, /^1 validation error detected: Value '.*' at 'grantTokens' failed to satisfy constraint: /);
    assert.ok(message.endsWith("Member must have length less than or equal to 10"), message);
    assert.doesNotThrow(() => decode("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), GrantTokens: tokens.slice(1) }));
  });

  test("a member of a list element is named by its 1-based index", () => {
    const tagKey = "k".repeat(129);
    assert.equal(
      validationMessage("TagResource", {
        KeyId: KEY_ID,
        Tags: [
          { TagKey: "ok", TagValue: "" },
          { TagKey: tagKey, TagValue: "v" },
        ],
      }),
      `1 validation error detected: Value '${tagKey}' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128`,
    );
    assert.equal(
      validationMessage("TagResource", { KeyId: KEY_ID, Tags: [{ TagKey: "k" }] }),
      "1 validation error detected: Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null",
    );
  });

  test("several violations are counted and joined with '; '", () => {
    const message = validationMessage("GenerateDataKey", { NumberOfBytes: 0, KeySpec: "AES_512" });
    assert.match(message, /^3 validation errors detected: /);
    const problems = message.slice("3 validation errors detected: ".length).split("; ");
    assert.equal(problems.length, 3);
    assert.ok(
      problems.includes("Value null at 'keyId' failed to satisfy constraint: Member must not be null"),
      message,
    );
    assert.ok(
      problems.includes(
        "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
      message,
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(
          "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [",
        ),
      ),
      message,
    );
  });

  test("a member the operation does not have is rejected and named", () => {
    const message = validationMessage("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), Plaintxt: b64("x") });
    assert.match(message, /^1 validation error detected: /);
    assert.match(message, /plaintxt/i);
  });
});

describe("decodeInput: wrong JSON types are SerializationException", () => {
  test("a body that is not an object", () => {
    for (const body of [null, [], "Encrypt", 42, true]) assertSerializationException("Encrypt", body);
  });

  test("a string member given another type", () => {
    assertSerializationException("Encrypt", { KeyId: 42, Plaintext: b64("x") });
    assertSerializationException("Encrypt", { KeyId: [KEY_ID], Plaintext: b64("x") });
    assertSerializationException("Encrypt", { KeyId: { id: KEY_ID }, Plaintext: b64("x") });
  });

  test("an integer member given a string, a fraction or an unsafe integer", () => {
    for (const value of ["32", 1.5, 2 ** 53, true])
      assertSerializationException("GenerateRandom", { NumberOfBytes: value });
  });

  test("a boolean member given a string", () => {
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), DryRun: "true" });
  });

  test("a blob that is not a string, or not valid base64", () => {
    for (const value of [[1, 2, 3], 12, "not base64!", "AAAAA===", "AA=A", "YWJj\nZGVm", "YW Jj"]) {
      assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: value });
    }
  });

  test("a map or list of the wrong type, or with values of the wrong type", () => {
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), EncryptionContext: ["a", "b"] });
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), EncryptionContext: { a: 1 } });
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), EncryptionContext: { a: null } });
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), GrantTokens: "token" });
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), GrantTokens: [1] });
    assertSerializationException("Encrypt", { KeyId: KEY_ID, Plaintext: b64("x"), GrantTokens: [null] });
  });

  test("a wrong type wins over constraint violations elsewhere in the request", () => {
    assertSerializationException("GenerateDataKey", { NumberOfBytes: 0, KeySpec: 256 });
  });
});

describe("toWire", () => {
  test("turns Dates into epoch seconds, keeping milliseconds as a fraction", () => {
    assert.deepEqual(toWire({ CreationDate: new Date(1499988169234) }), { CreationDate: 1499988169.234 });
    assert.deepEqual(toWire({ DeletionDate: new Date(0) }), { DeletionDate: 0 });
  });

  test("turns bytes into base64, honouring a view's offset and length", () => {
    const backing = Buffer.from("xxhello worldxx");
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 11);
    assert.deepEqual(toWire({ Plaintext: view }), { Plaintext: b64("hello world") });
    assert.deepEqual(toWire({ Plaintext: Buffer.from([0xff, 0x00]) }), { Plaintext: "/wA=" });
  });

  test("converts nested structures and lists, drops undefined members, keeps the rest as is", () => {
    const wire = toWire({
      KeyMetadata: { KeyId: KEY_ID, Enabled: true, CreationDate: new Date(1000), Description: "", Missing: undefined },
      Keys: [{ KeyId: "a" }, { KeyId: "b", Blob: new Uint8Array([1]) }],
      Truncated: false,
      Limit: 0,
    });
    assert.deepEqual(wire, {
      KeyMetadata: { KeyId: KEY_ID, Enabled: true, CreationDate: 1, Description: "" },
      Keys: [{ KeyId: "a" }, { KeyId: "b", Blob: "AQ==" }],
      Truncated: false,
      Limit: 0,
    });
    assert.equal(JSON.stringify(wire).includes("Missing"), false);
  });

  test("round-trips a blob through decodeInput", () => {
    const bytes = Buffer.from([1, 2, 3, 4, 5, 6, 7]);
    const input = decode("Decrypt", { CiphertextBlob: toWire(bytes) });
    assert.deepEqual(Buffer.from(input.CiphertextBlob as Uint8Array), bytes);
  });
});
