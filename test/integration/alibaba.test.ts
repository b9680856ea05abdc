import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  KMSClient,
  PutKeyPolicyCommand,
  RotateKeyOnDemandCommand,
} from "@aws-sdk/client-kms";
import { DkmsClient, stringToSign } from "../support/dkms-client.js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * The Alibaba Cloud KMS instance-API edge, driven over HTTPS by the test's own dkms-gcs client
 * with the ClientKey file Trent wrote at first start, against the same keys as the AWS edge.
 */
let trent: TrentProcess;
let aws: KMSClient;
let dkms: DkmsClient;
let keyId: string;
const CONCURRENCY_LIMIT = 8;

before(async () => {
  trent = await startTrentProcess([
    "--listen-tls",
    "127.0.0.1:0",
    "--alibaba-max-concurrency",
    String(CONCURRENCY_LIMIT),
    "--key-pair-pool",
    "RSA_2048=2,ECC_NIST_P256=2",
  ]);
  aws = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
  dkms = new DkmsClient(
    trent.tlsUrl as string,
    readFileSync(join(trent.dataDir, "ca.pem"), "utf8"),
    join(trent.dataDir, "alibaba-client-key.json"),
    readFileSync(join(trent.dataDir, "alibaba-client-key.password"), "utf8").trim(),
  );
  keyId = (await aws.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
  await aws.send(new CreateAliasCommand({ AliasName: "alias/alibaba-test", TargetKeyId: keyId }));
});

after(async () => {
  aws?.destroy();
  await trent?.stop();
});

function ok(reply: { status: number; message: Record<string, unknown> }): Record<string, unknown> {
  assert.equal(reply.status, 200, JSON.stringify(reply.message));
  assert.match(String(reply.message.RequestId), /\S/);
  return reply.message;
}

test("the string to sign is the SDK's, byte for byte (known answer from the Go SDK's algorithm)", () => {
  const headers = {
    date: "Thu, 01 Feb 2024 08:00:00 GMT",
    "content-type": "application/x-protobuf",
    "content-sha256": "DDA10180F50CEC96A3904173F97AA50423C1C0C64F104F8740E12F6912B63ADB",
    "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
    "x-kms-apiversion": "dkms-gcs-0.2",
    "x-kms-apiname": "Encrypt",
    "x-kms-acccesskeyid": "KAAP.2bc431c0-416f-4ccb-8638-e71245fd60c1",
    accept: "application/x-protobuf",
  };
  assert.equal(
    stringToSign("POST", headers),
    "POST\nDDA10180F50CEC96A3904173F97AA50423C1C0C64F104F8740E12F6912B63ADB\napplication/x-protobuf\n" +
      "Thu, 01 Feb 2024 08:00:00 GMT\nx-kms-acccesskeyid:KAAP.2bc431c0-416f-4ccb-8638-e71245fd60c1\n" +
      "x-kms-apiname:Encrypt\nx-kms-apiversion:dkms-gcs-0.2\nx-kms-signaturemethod:RSA_PKCS1_SHA_256\n/",
  );
  // The body of that example: EncryptRequest{KeyId:"key-123", Plaintext:"hello"}.
  assert.equal(
    Buffer.from(dkms.encode("Encrypt", { KeyId: "key-123", Plaintext: Buffer.from("hello") })).toString("hex"),
    "0a076b65792d313233120568656c6c6f",
  );
});

describe("operations over HTTPS", () => {
  for (const keyFormat of ["PEM", "DER"]) {
    test(`GenerateDataKeyPairWithoutPlaintext (${keyFormat}): Decrypt opens the private key, and it matches PublicKey`, async () => {
      const aad = randomBytes(16);
      const pair = ok(
        await dkms.call("GenerateDataKeyPairWithoutPlaintext", {
          KeyId: "alias/alibaba-test",
          KeyPairSpec: "RSA_2048",
          KeyFormat: keyFormat,
          Aad: aad,
        }),
      );
      assert.equal(pair.PrivateKeyPlaintext, undefined);
      const opened = ok(
        await dkms.call("Decrypt", {
          KeyId: keyId,
          CiphertextBlob: pair.PrivateKeyCiphertextBlob,
          Iv: pair.Iv,
          Aad: aad,
          Algorithm: "AES_GCM",
        }),
      );
      const privateBytes = opened.Plaintext as Buffer;
      const publicBytes = pair.PublicKey as Buffer;
      const privateKey =
        keyFormat === "PEM"
          ? createPrivateKey(privateBytes.toString("utf8"))
          : createPrivateKey({ key: privateBytes, format: "der", type: "pkcs8" });
      const publicKey =
        keyFormat === "PEM"
          ? createPublicKey(publicBytes.toString("utf8"))
          : createPublicKey({ key: publicBytes, format: "der", type: "spki" });
      const message = randomBytes(32);
      assert.equal(verify("sha256", message, publicKey, sign("sha256", message, privateKey)), true);
      // Without the Aad it was bound to, the blob does not open.
      const wrongAad = await dkms.call("Decrypt", {
        KeyId: keyId,
        CiphertextBlob: pair.PrivateKeyCiphertextBlob,
        Iv: pair.Iv,
        Aad: randomBytes(16),
        Algorithm: "AES_GCM",
      });
      assert.ok(wrongAad.status >= 400 && wrongAad.status < 500, JSON.stringify(wrongAad.message));
    });
  }

  test("AdvanceGenerateDataKeyPair(WithoutPlaintext): AdvanceDecrypt opens the private key from the blob alone", async () => {
    const aad = Buffer.from("pair context");
    const withPlaintext = ok(
      await dkms.call("AdvanceGenerateDataKeyPair", {
        KeyId: keyId,
        KeyPairSpec: "EC_P256K",
        KeyFormat: "DER",
        Aad: aad,
      }),
    );
    const without = ok(
      await dkms.call("AdvanceGenerateDataKeyPairWithoutPlaintext", {
        KeyId: keyId,
        KeyPairSpec: "RSA_2048",
        KeyFormat: "PEM",
        Aad: aad,
      }),
    );
    assert.equal(without.PrivateKeyPlaintext, undefined);
    assert.match(String(without.KeyVersionId), /\S/);
    for (const [pair, format] of [
      [withPlaintext, "DER"],
      [without, "PEM"],
    ] as const) {
      const opened = ok(await dkms.call("AdvanceDecrypt", { CiphertextBlob: pair.PrivateKeyCiphertextBlob, Aad: aad }));
      const privateBytes = opened.Plaintext as Buffer;
      if (pair === withPlaintext) assert.deepEqual(privateBytes, pair.PrivateKeyPlaintext);
      const privateKey =
        format === "PEM"
          ? createPrivateKey(privateBytes.toString("utf8"))
          : createPrivateKey({ key: privateBytes, format: "der", type: "pkcs8" });
      const publicKey =
        format === "PEM"
          ? createPublicKey((pair.PublicKey as Buffer).toString("utf8"))
          : createPublicKey({ key: pair.PublicKey as Buffer, format: "der", type: "spki" });
      const message = randomBytes(32);
      assert.equal(verify("sha256", message, publicKey, sign("sha256", message, privateKey)), true);
    }
  });

  test("GenerateDataKeyPair EC_P256 returns a matching plaintext private key", async () => {
    const pair = ok(await dkms.call("GenerateDataKeyPair", { KeyId: keyId, KeyPairSpec: "EC_P256", KeyFormat: "DER" }));
    const privateKey = createPrivateKey({ key: pair.PrivateKeyPlaintext as Buffer, format: "der", type: "pkcs8" });
    const publicKey = createPublicKey({ key: pair.PublicKey as Buffer, format: "der", type: "spki" });
    assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const message = randomBytes(32);
    assert.equal(verify("sha256", message, publicKey, sign("sha256", message, privateKey)), true);
  });

  test("Encrypt/Decrypt and AdvanceEncrypt/AdvanceDecrypt round trip; AdvanceDecrypt opens blobs from before rotations", async () => {
    const plaintext = randomBytes(40);
    const aad = Buffer.from("context");
    const sealed = ok(await dkms.call("Encrypt", { KeyId: keyId, Plaintext: plaintext, Aad: aad }));
    assert.equal((sealed.Iv as Buffer).length, 12);
    const opened = ok(
      await dkms.call("Decrypt", { KeyId: keyId, CiphertextBlob: sealed.CiphertextBlob, Iv: sealed.Iv, Aad: aad }),
    );
    assert.deepEqual(opened.Plaintext, plaintext);

    const advanced = ok(await dkms.call("AdvanceEncrypt", { KeyId: keyId, Plaintext: plaintext, Aad: aad }));
    const versionBefore = advanced.KeyVersionId;
    assert.match(String(versionBefore), /\S/);
    for (let i = 0; i < 3; i++) await aws.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const afterRotation = ok(await dkms.call("AdvanceDecrypt", { CiphertextBlob: advanced.CiphertextBlob, Aad: aad }));
    assert.deepEqual(afterRotation.Plaintext, plaintext);
    assert.equal(afterRotation.KeyVersionId, versionBefore);
    const newer = ok(await dkms.call("AdvanceEncrypt", { KeyId: keyId, Plaintext: plaintext, Aad: aad }));
    assert.notEqual(newer.KeyVersionId, versionBefore);
  });

  test("GenerateDataKey, AdvanceGenerateDataKey and GenerateRandom", async () => {
    const dataKey = ok(await dkms.call("GenerateDataKey", { KeyId: keyId, NumberOfBytes: 32 }));
    assert.equal((dataKey.Plaintext as Buffer).length, 32);
    const opened = ok(
      await dkms.call("Decrypt", { KeyId: keyId, CiphertextBlob: dataKey.CiphertextBlob, Iv: dataKey.Iv }),
    );
    assert.deepEqual(opened.Plaintext, dataKey.Plaintext);
    const advanced = ok(await dkms.call("AdvanceGenerateDataKey", { KeyId: keyId, NumberOfBytes: 16 }));
    const advancedOpened = ok(await dkms.call("AdvanceDecrypt", { CiphertextBlob: advanced.CiphertextBlob }));
    assert.deepEqual(advancedOpened.Plaintext, advanced.Plaintext);
    const random = ok(await dkms.call("GenerateRandom", { Length: 48 }));
    assert.equal((random.Random as Buffer).length, 48);
  });

  test("GetPublicKey, Sign and Verify with an asymmetric key made on the AWS edge", async () => {
    const signingKey = (await aws.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" })))
      .KeyMetadata?.KeyId as string;
    const publicPem = ok(await dkms.call("GetPublicKey", { KeyId: signingKey })).PublicKey as string;
    const message = randomBytes(64);
    const signed = ok(
      await dkms.call("Sign", { KeyId: signingKey, Algorithm: "ECDSA_SHA_256", Message: message, MessageType: "RAW" }),
    );
    assert.equal(verify("sha256", message, createPublicKey(publicPem), signed.Signature as Buffer), true);
    const verified = ok(
      await dkms.call("Verify", {
        KeyId: signingKey,
        Algorithm: "ECDSA_SHA_256",
        Message: message,
        MessageType: "RAW",
        Signature: signed.Signature,
      }),
    );
    assert.equal(verified.Value, true);
  });

  test("Hmac with an HMAC key", async () => {
    const hmacKey = (await aws.send(new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" })))
      .KeyMetadata?.KeyId as string;
    const first = ok(await dkms.call("Hmac", { KeyId: hmacKey, Message: Buffer.from("m") }));
    const second = ok(await dkms.call("Hmac", { KeyId: hmacKey, Message: Buffer.from("m") }));
    assert.equal((first.Signature as Buffer).length, 32);
    assert.deepEqual(first.Signature, second.Signature);
  });
});

describe("authentication, authorization and hostile requests", () => {
  const expectError = async (
    call: Promise<{ status: number; message: Record<string, unknown> }>,
    status: number,
    code?: string,
  ) => {
    const reply = await call;
    assert.equal(reply.status, status, JSON.stringify(reply.message));
    assert.equal(reply.message.StatusCode, status);
    if (code !== undefined) assert.equal(reply.message.ErrorCode, code);
    assert.match(String(reply.message.ErrorMessage), /\S/);
    assert.match(String(reply.message.RequestId), /\S/);
  };
  const encrypt = { KeyId: "alias/alibaba-test", Plaintext: Buffer.from("x") };

  test("a stale date, a wrong body hash, a bad signature and an unknown client key are refused", async () => {
    const stale = new Date(Date.now() - 20 * 60_000).toUTCString();
    await expectError(dkms.call("Encrypt", encrypt, { date: stale }), 400, "RequestTimeTooSkewed");
    await expectError(dkms.call("Encrypt", encrypt, { contentSha256: "00".repeat(32) }), 400);
    await expectError(
      dkms.call("Encrypt", encrypt, {
        bodyAfterSigning: dkms.encode("Encrypt", { ...encrypt, Plaintext: Buffer.from("y") }),
      }),
      400,
    );
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    await expectError(
      dkms.call("Encrypt", encrypt, {
        authorization: `Bearer ${sign("sha256", Buffer.from("anything"), otherKey).toString("base64")}`,
      }),
      400,
      "InvalidParam",
    );
    await expectError(
      dkms.call("Encrypt", encrypt, { accessKeyId: "KAAP.00000000-0000-0000-0000-000000000000" }),
      401,
      "Unauthorized",
    );
  });

  test("truncated or garbage protobuf is a 400, never a 5xx", async () => {
    const body = Buffer.from(dkms.encode("Encrypt", encrypt));
    for (const rawBody of [body.subarray(0, body.length - 3), randomBytes(64), Buffer.from([0x0a, 0xff, 0xff, 0xff])]) {
      const reply = await dkms.call("Encrypt", {}, { rawBody });
      assert.ok(reply.status >= 400 && reply.status < 500, `${reply.status} ${JSON.stringify(reply.message)}`);
    }
  });

  test("an AWS-edge key policy that denies the caller denies the Alibaba caller too", async () => {
    const denied = (await aws.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
    const policy = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${trent.accountId}:root` }, Action: "kms:*", Resource: "*" },
        { Effect: "Deny", Principal: { AWS: "*" }, Action: "kms:Encrypt", Resource: "*" },
      ],
    };
    await aws.send(new PutKeyPolicyCommand({ KeyId: denied, PolicyName: "default", Policy: JSON.stringify(policy) }));
    await expectError(
      dkms.call("Encrypt", { KeyId: denied, Plaintext: Buffer.from("x") }),
      403,
      "Forbidden.NoPermission",
    );
  });

  test("past the concurrency limit requests are turned away with 429 Rejected.Throttling, and nothing else fails", async () => {
    const replies = await Promise.all(
      Array.from({ length: CONCURRENCY_LIMIT * 8 }, () =>
        dkms.call("GenerateDataKeyPairWithoutPlaintext", { KeyId: keyId, KeyPairSpec: "RSA_3072", KeyFormat: "DER" }),
      ),
    );
    const statuses = replies.map((reply) => reply.status);
    assert.ok(statuses.includes(429), `no 429 among ${statuses}`);
    for (const reply of replies) {
      if (reply.status === 429) assert.equal(reply.message.ErrorCode, "Rejected.Throttling");
      else assert.equal(reply.status, 200, JSON.stringify(reply.message));
    }
  });
});

describe("the audit trail", () => {
  test("instance-API requests are recorded on the same trail, throttled ones too, with no secret in it", async () => {
    const plaintext = randomBytes(40);
    const encrypted = ok(await dkms.call("Encrypt", { KeyId: keyId, Plaintext: plaintext }));
    const dataKey = ok(await dkms.call("GenerateDataKey", { KeyId: keyId, NumberOfBytes: 32 }));
    const records = readFileSync(join(trent.dataDir, "audit", "audit.log"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));
    const byRequest = new Map(records.map((record) => [record.requestID, record]));
    const record = byRequest.get(encrypted.RequestId);
    assert.ok(record, "the Encrypt is on record");
    assert.equal(record.eventSource, "kms.aliyuncs.com");
    assert.equal(record.eventName, "Encrypt");
    assert.equal(record.additionalEventData.edge, "alibaba");
    assert.match(record.userIdentity.accessKeyId, /^KAAP\./);
    assert.equal(record.requestParameters.keyId, keyId);
    assert.equal(record.requestParameters.plaintext, undefined);
    assert.match(record.responseElements.ciphertextBlob, /^hmac-sha256:/);
    assert.equal(byRequest.get(dataKey.RequestId)?.eventName, "GenerateDataKey");
    assert.ok(
      records.some((entry) => entry.errorCode === "Rejected.Throttling" && entry.userIdentity === null),
      "a throttled request is on record",
    );
    const trail = readFileSync(join(trent.dataDir, "audit", "audit.log"));
    for (const secret of [plaintext, dataKey.Plaintext as Buffer, encrypted.CiphertextBlob as Buffer]) {
      for (const spelling of [secret, Buffer.from(secret.toString("base64")), Buffer.from(secret.toString("hex"))]) {
        assert.equal(trail.indexOf(spelling), -1, "a secret is in the audit trail");
      }
    }
  });
});
