import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import protobuf from "protobufjs";
import type { AnsweredRequest } from "../../src/audit/audit-sink.js";
import {
  AccessDeniedException,
  DisabledException,
  KMSInvalidStateException,
  NotFoundException,
  ValidationException,
} from "../../src/domain/errors.js";
import type { AlibabaOperation } from "../../src/ops/alibaba/index.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { DkmsEdge } from "../../src/protocol/alibaba/dkms-edge.js";
import type { AwsJsonEdge, EdgeRequest } from "../../src/protocol/aws/aws-json-edge.js";
import { createHttpServer, DEFAULT_HTTP_OPTIONS } from "../../src/server/http-server.js";

// An independent client: messages from api.proto itself (not the edge's generated descriptor),
// and the string-to-sign and RSA-SHA256 signature written from the SDK's algorithm.
function findProto(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "src", "protocol", "alibaba", "api.proto");
    if (existsSync(file)) return file;
  }
  throw new Error("api.proto not found");
}
const proto = new protobuf.Root().loadSync(findProto(), { keepCase: true });
const message = (name: string) => proto.lookupType(`api.${name}`);

const NOW = Date.UTC(2024, 1, 1, 8, 0, 0);
const MINUTE = 60_000;
const KEY_ID = "KAAP.2bc431c0-416f-4ccb-8638-e71245fd60c1";
const clientKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const strangerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const IDENTITY = {
  principalArn: "arn:aws:iam::111122223333:user/alice",
  principalId: "AIDATRENTTESTALICE01",
  accountId: "111122223333",
  accessKeyId: KEY_ID,
};

function rfc1123(time: number): string {
  return new Date(time).toUTCString();
}

function sdkStringToSign(headers: Record<string, string>): string {
  const kms = Object.keys(headers)
    .filter((name) => name.startsWith("x-kms-"))
    .sort()
    .map((name) => `${name}:${(headers[name] as string).trim()}\n`)
    .join("");
  return `POST\n${headers["content-sha256"] ?? ""}\n${headers["content-type"] ?? ""}\n${headers.date ?? ""}\n${kms}/`;
}

interface Build {
  api?: string;
  input?: Record<string, unknown>;
  rawBody?: Buffer;
  date?: number | string;
  privateKey?: KeyObject;
  /** Header changes applied before signing (undefined removes the header). */
  before?: Record<string, string | undefined>;
  /** Header changes applied after signing. */
  after?: Record<string, string | undefined>;
  bodyAfterSigning?: Buffer;
}

function apply(headers: Record<string, string>, changes: Record<string, string | undefined> | undefined): void {
  for (const [name, value] of Object.entries(changes ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
}

/** A request as the Go SDK's DoRequest builds it, as the listener hands it to the edge. */
function build(options: Build = {}): EdgeRequest {
  const api = options.api ?? "Encrypt";
  const body =
    options.rawBody ??
    Buffer.from(
      message(`${api}Request`)
        .encode(message(`${api}Request`).fromObject(options.input ?? { KeyId: "key-123", Plaintext: "aGVsbG8=" }))
        .finish(),
    );
  const headers: Record<string, string> = {
    accept: "application/x-protobuf",
    host: "kst-test.cryptoservice.kms.aliyuncs.com",
    date: typeof options.date === "string" ? options.date : rfc1123(options.date ?? NOW),
    "user-agent": "AlibabaCloud (linux; amd64) Golang/1.21 Core/0.01 TeaDSL/1",
    "x-kms-apiversion": "dkms-gcs-0.2",
    "x-kms-apiname": api,
    "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
    "x-kms-acccesskeyid": KEY_ID,
    "content-type": "application/x-protobuf",
    "content-length": String(body.length),
    "content-sha256": createHash("sha256").update(body).digest("hex").toUpperCase(),
  };
  apply(headers, options.before);
  const signature = sign("sha256", Buffer.from(sdkStringToSign(headers)), options.privateKey ?? clientKey.privateKey);
  headers.authorization = `Bearer ${signature.toString("base64")}`;
  apply(headers, options.after);
  return {
    method: "POST",
    path: "/",
    query: {},
    headers: new Map(Object.entries(headers).map(([name, value]) => [name, [value]])),
    body: options.bodyAfterSigning ?? body,
    remoteAddress: "10.0.0.7",
    secure: true,
  };
}

interface Harness {
  edge: DkmsEdge;
  audit: AnsweredRequest[];
  calls: { api: string; context: OperationContext; input: Record<string, unknown> }[];
  logs: string[];
}

/** Echoes Encrypt; KeyId picks a failure: missing, denied, disabled, pending, invalid, boom, malformed. */
function fakeOperations(calls: Harness["calls"], gate?: Promise<void>): Record<string, AlibabaOperation> {
  const encrypt: AlibabaOperation = async (context, input) => {
    calls.push({ api: "Encrypt", context, input: { ...input, Plaintext: Buffer.from(input.Plaintext as Uint8Array) } });
    if (gate) await gate;
    switch (input.KeyId) {
      case "missing":
        throw new NotFoundException("Key 'missing' does not exist");
      case "denied":
        throw new AccessDeniedException("User is not authorized to perform kms:Encrypt");
      case "disabled":
        throw new DisabledException("The key is disabled.");
      case "pending":
        throw new KMSInvalidStateException("The key is pending deletion.");
      case "invalid":
        throw new ValidationException("The Param Algorithm is invalid.");
      case "boom":
        throw new Error("disk on fire");
      case "malformed":
        return { CiphertextBlob: 42 };
    }
    return {
      KeyId: input.KeyId,
      CiphertextBlob: Buffer.from(input.Plaintext as Uint8Array).reverse(),
      Iv: Buffer.alloc(12, 7),
      Algorithm: "AES_GCM",
    };
  };
  return { Encrypt: encrypt, Decrypt: encrypt };
}

function harness(options: { maxConcurrentRequests?: number; region?: string; gate?: Promise<void> } = {}): Harness {
  const audit: AnsweredRequest[] = [];
  const calls: Harness["calls"] = [];
  const logs: string[] = [];
  const services = {
    now: () => new Date(NOW),
    audit: {
      record: async (event: AnsweredRequest) => void audit.push(event),
      correlationHash: (value: Uint8Array | string) => `hash:${Buffer.from(value).length}`,
      close: async () => {},
    },
    quotas: { admit: () => {} },
    metrics: { answered: () => {} },
  } as unknown as Services;
  const clientKeys = {
    lookup: async (keyId: string) =>
      keyId === KEY_ID ? { publicKey: clientKey.publicKey, identity: IDENTITY } : undefined,
  };
  const logger = pino({ level: "error" }, { write: (line: string) => void logs.push(line) });
  const edge = new DkmsEdge(
    services,
    clientKeys,
    logger,
    {
      maxConcurrentRequests: options.maxConcurrentRequests ?? 8,
      ...(options.region === undefined ? {} : { region: options.region }),
    },
    fakeOperations(calls, options.gate),
  );
  return { edge, audit, calls, logs };
}

function decodeError(body: Buffer): Record<string, unknown> {
  return message("Error").toObject(message("Error").decode(body), { defaults: true });
}

async function expectError(
  edge: DkmsEdge,
  request: EdgeRequest,
  status: number,
  code: string,
  errorMessage?: string | RegExp,
): Promise<Record<string, unknown>> {
  const response = await edge.handle(request);
  const error = decodeError(response.body);
  assert.equal(response.status, status, JSON.stringify(error));
  assert.equal(response.headers["content-type"], "application/x-protobuf");
  assert.equal(error.StatusCode, status);
  assert.equal(error.ErrorCode, code);
  if (typeof errorMessage === "string") assert.equal(error.ErrorMessage, errorMessage);
  else if (errorMessage) assert.match(error.ErrorMessage as string, errorMessage);
  assert.match(error.RequestId as string, /^[0-9a-f-]{36}$/);
  return error;
}

describe("DkmsEdge", () => {
  test("an SDK-signed Encrypt runs as the client key's principal and answers EncryptResponse", async () => {
    const { edge, audit, calls } = harness({ region: "eu-central-1" });
    const response = await edge.handle(build());
    assert.equal(response.status, 200);
    assert.equal(response.headers["content-type"], "application/x-protobuf");
    const decoded = message("EncryptResponse").toObject(message("EncryptResponse").decode(response.body));
    assert.equal(decoded.KeyId, "key-123");
    assert.deepEqual(Buffer.from(decoded.CiphertextBlob), Buffer.from("olleh"));
    assert.deepEqual(Buffer.from(decoded.Iv), Buffer.alloc(12, 7));
    assert.equal(decoded.Algorithm, "AES_GCM");
    assert.match(decoded.RequestId, /^[0-9a-f-]{36}$/);

    const [call] = calls;
    assert.ok(call);
    assert.deepEqual(call.context.caller, {
      ...IDENTITY,
      region: "eu-central-1",
      sourceIp: "10.0.0.7",
      secureTransport: true,
    });
    assert.deepEqual(call.input.Plaintext, Buffer.from("hello"));
    // proto3: fields the SDK leaves out arrive as their defaults.
    assert.equal(call.input.Algorithm, "");
    assert.equal((call.input.Aad as Uint8Array).length, 0);

    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.edge, "alibaba");
    assert.equal(audit[0]?.operation, "Encrypt");
    assert.equal(audit[0]?.requestId, decoded.RequestId);
    assert.equal(audit[0]?.caller?.principalArn, IDENTITY.principalArn);
    assert.equal(audit[0]?.caller?.accessKeyId, KEY_ID);
    assert.equal(audit[0]?.caller?.region, "eu-central-1");
    assert.equal(audit[0]?.error, null);
    // The record names the key and algorithm, never the plaintext; the ciphertext only as a hash.
    assert.deepEqual(audit[0]?.requestParameters, { keyId: "key-123", algorithm: "", paddingMode: "" });
    assert.equal(audit[0]?.responseElements?.ciphertextBlob, "hash:5");
    assert.equal(JSON.stringify(audit[0]).includes("aGVsbG8"), false);
  });

  test("the region defaults to us-east-1; header names arrive in any case; an empty body is a request", async () => {
    const { edge, calls } = harness();
    const response = await edge.handle(build({ input: {} }));
    assert.equal(response.status, 200);
    assert.equal(calls[0]?.context.caller.region, "us-east-1");
    assert.equal(calls[0]?.input.KeyId, "");
  });

  test("a date within 15 minutes either way is accepted", async () => {
    const { edge } = harness();
    assert.equal((await edge.handle(build({ date: NOW - 14 * MINUTE }))).status, 200);
    assert.equal((await edge.handle(build({ date: NOW + 14 * MINUTE }))).status, 200);
  });

  test("header checks answer the SDK's documented codes", async () => {
    const { edge, calls, audit } = harness();
    await expectError(
      edge,
      build({ before: { "x-kms-apiversion": "dkms-gcs-0.1" } }),
      400,
      "InvalidApiVersion",
      'The ApiVersion "dkms-gcs-0.1" is invalid.',
    );
    await expectError(edge, build({ before: { "x-kms-apiversion": undefined } }), 400, "InvalidApiVersion");
    await expectError(
      edge,
      build({ before: { "x-kms-apiname": "Frobnicate" } }),
      400,
      "InvalidApiName",
      'The ApiName "Frobnicate" is invalid.',
    );
    await expectError(edge, build({ before: { "x-kms-apiname": "Error" } }), 400, "InvalidApiName");
    await expectError(
      edge,
      build({ before: { "x-kms-signaturemethod": undefined } }),
      400,
      "InvalidParam",
      "The Param x-kms-signaturemethod is invalid.",
    );
    await expectError(
      edge,
      build({ before: { "x-kms-signaturemethod": "HMAC_SHA_256" } }),
      400,
      "InvalidParam",
      'The Param x-kms-signaturemethod is invalid. message:"HMAC_SHA_256".',
    );
    await expectError(
      edge,
      build({ before: { "x-kms-acccesskeyid": undefined } }),
      400,
      "MissingParameter",
      "Parameter x-kms-acccesskeyid does not exist in http header or body.",
    );
    for (const date of ["2024-02-01T08:00:00Z", "Thu, 31 Feb 2024 08:00:00 GMT", "Thu, 01 Feb 2024 08:00:00 UTC", ""]) {
      await expectError(edge, build({ date }), 400, "InvalidParam", "The Param Date is invalid.");
    }
    for (const date of [NOW - 16 * MINUTE, NOW + 16 * MINUTE]) {
      await expectError(
        edge,
        build({ date }),
        400,
        "RequestTimeTooSkewed",
        "Request time exceeds server time more than 15 minutes.",
      );
    }
    assert.equal(calls.length, 0);
    assert.ok(audit.every((event) => event.error !== null && event.caller === null));
  });

  test("a body that does not match content-sha256 gets the message the Java SDK retries on", async () => {
    const { edge, calls } = harness();
    const changed = Buffer.from(
      message("EncryptRequest")
        .encode({ KeyId: "key-124", Plaintext: Buffer.from("hi") })
        .finish(),
    );
    await expectError(
      edge,
      build({ bodyAfterSigning: changed }),
      400,
      "InvalidParam",
      "The Param Content-SHA256 is invalid.",
    );
    await expectError(
      edge,
      build({ before: { "content-sha256": undefined } }),
      400,
      "InvalidParam",
      "The Param Content-SHA256 is invalid.",
    );
    assert.equal(calls.length, 0);
  });

  test("bad signatures and unknown client keys are refused before any operation runs", async () => {
    const { edge, calls } = harness();
    const authorization = "The Param Authorization is invalid.";
    await expectError(edge, build({ privateKey: strangerKey.privateKey }), 400, "InvalidParam", authorization);
    await expectError(edge, build({ after: { authorization: undefined } }), 400, "InvalidParam", authorization);
    await expectError(edge, build({ after: { authorization: "Bearer !!!" } }), 400, "InvalidParam", authorization);
    // A header the signature covers, changed or added after signing.
    await expectError(edge, build({ after: { "x-kms-apiname": "Decrypt" } }), 400, "InvalidParam", authorization);
    await expectError(edge, build({ after: { "x-kms-extra": "1" } }), 400, "InvalidParam", authorization);
    await expectError(edge, build({ after: { date: rfc1123(NOW + MINUTE) } }), 400, "InvalidParam", authorization);
    await expectError(
      edge,
      build({ before: { "x-kms-acccesskeyid": "KAAP.00000000-0000-0000-0000-000000000000" } }),
      401,
      "Unauthorized",
    );
    // Extra x-kms-* headers the caller adds are signed like the SDK's own.
    assert.equal((await edge.handle(build({ before: { "x-kms-extra": "1" } }))).status, 200);
    assert.equal(calls.length, 1);
  });

  test("an API the descriptor knows but Trent does not run is refused after authentication", async () => {
    const { edge } = harness();
    await expectError(
      edge,
      build({ api: "GetSecretValue", input: { SecretName: "s" } }),
      400,
      "Rejected.UnsupportedOperation",
    );
    await expectError(
      edge,
      build({ api: "GetSecretValue", input: { SecretName: "s" }, privateKey: strangerKey.privateKey }),
      400,
      "InvalidParam",
      "The Param Authorization is invalid.",
    );
  });

  test("operation errors map to Alibaba's codes and statuses", async () => {
    const { edge, audit, logs } = harness();
    const cases: [string, number, string][] = [
      ["missing", 404, "Forbidden.KeyNotFound"],
      ["denied", 403, "Forbidden.NoPermission"],
      ["disabled", 409, "Rejected.Disabled"],
      ["pending", 409, "Rejected.InvalidKeyState"],
      ["invalid", 400, "InvalidParam"],
    ];
    for (const [keyId, status, code] of cases) {
      await expectError(edge, build({ input: { KeyId: keyId, Plaintext: "aGVsbG8=" } }), status, code);
    }
    for (const keyId of ["boom", "malformed"]) {
      const error = await expectError(
        edge,
        build({ input: { KeyId: keyId, Plaintext: "aGVsbG8=" } }),
        500,
        "InternalFailure",
        /^Internal Failure\./,
      );
      // The request id in the answer finds the logged cause.
      assert.ok(logs.some((line) => line.includes(error.RequestId as string)));
    }
    assert.ok(logs.every((line) => !line.includes("aGVsbG8")));
    assert.deepEqual(
      audit.map((event) => event.error?.code ?? null),
      [...cases.map(([, , code]) => code), "InternalFailure", "InternalFailure"],
    );
    assert.ok(audit.every((event) => event.caller?.principalArn === IDENTITY.principalArn));
  });

  test("truncated or garbage protobuf bodies are InvalidParam, never a 5xx", async () => {
    const { edge } = harness();
    const valid = Buffer.from(
      message("EncryptRequest")
        .encode({ KeyId: "key-123", Plaintext: Buffer.from("hello world") })
        .finish(),
    );
    const garbage = [
      valid.subarray(0, valid.length - 3), // truncated inside Plaintext
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // unterminated varint
      Buffer.from([0x0f]), // wire type 7
      Buffer.from([0x08, 0x01]), // KeyId (a string) sent as a varint
      Buffer.from([0x0a, 0x7f, 0x61]), // length beyond the body
      Buffer.from([0x02, 0x00]), // field number 0
      Buffer.from("not a protobuf at all"),
    ];
    for (const rawBody of garbage) {
      await expectError(
        edge,
        build({ rawBody }),
        400,
        "InvalidParam",
        "The Param Body is not a valid EncryptRequest message.",
      );
    }
    for (let i = 0; i < 300; i++) {
      const response = await edge.handle(build({ rawBody: randomBytes(1 + (i % 64)) }));
      assert.ok(response.status === 200 || response.status === 400, `status ${response.status}`);
      if (response.status === 400) assert.equal(decodeError(response.body).ErrorCode, "InvalidParam");
    }
  });

  test("a body above 3 MB is 413", async () => {
    const { edge, calls } = harness();
    const rawBody = Buffer.alloc(3 * 1024 * 1024 + 1);
    await expectError(edge, build({ rawBody }), 413, "RequestEntityTooLarge");
    assert.equal(calls.length, 0);
    const tooLarge = edge.tooLarge();
    assert.equal(tooLarge.status, 413);
    assert.equal(decodeError(tooLarge.body).ErrorCode, "RequestEntityTooLarge");
  });

  test("past the concurrency limit requests are answered 429 at once, and the rest succeed", async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const { edge, calls } = harness({ maxConcurrentRequests: 4, gate });
    const requests = Array.from({ length: 24 }, () => build());
    const pending = requests.map((request) => edge.handle(request));
    // The refused ones settle while the admitted ones still wait on the gate.
    const early = await Promise.all(pending.slice(4));
    assert.ok(early.every((response) => response.status === 429));
    const throttled = decodeError(early[0]?.body as Buffer);
    assert.equal(throttled.ErrorCode, "Rejected.Throttling");
    assert.equal(throttled.StatusCode, 429);
    assert.equal(calls.length, 4);
    open();
    const admitted = await Promise.all(pending.slice(0, 4));
    assert.ok(admitted.every((response) => response.status === 200));
    // Slots are released, by successes and failures alike.
    assert.equal((await edge.handle(build({ input: { KeyId: "boom", Plaintext: "aGk=" } }))).status, 500);
    assert.equal((await edge.handle(build())).status, 200);
  });

  test("a flood of concurrent requests gets only 200s and 429s", async () => {
    const { edge } = harness({ maxConcurrentRequests: 3 });
    const responses = await Promise.all(Array.from({ length: 200 }, () => edge.handle(build())));
    const statuses = new Set(responses.map((response) => response.status));
    assert.ok(
      [...statuses].every((status) => status === 200 || status === 429),
      [...statuses].join(),
    );
    assert.ok(responses.some((response) => response.status === 200));
  });
});

describe("the HTTP listener with a DkmsEdge", () => {
  test("routes x-kms-apiname requests to it with a 3 MB limit, and everything else to the AWS edge", async () => {
    const { edge } = harness();
    const awsCalls: EdgeRequest[] = [];
    const awsEdge = {
      handle: async (request: EdgeRequest) => {
        awsCalls.push(request);
        return { status: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: "{}" };
      },
    } as unknown as AwsJsonEdge;
    const server = createHttpServer(
      awsEdge,
      pino({ level: "silent" }),
      DEFAULT_HTTP_OPTIONS,
      () => "",
      undefined,
      edge,
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const send = (request: EdgeRequest, body: Buffer) =>
      new Promise<{ status: number; type: string | undefined; body: Buffer }>((resolve, reject) => {
        const headers = Object.fromEntries([...request.headers].map(([name, values]) => [name, values[0] as string]));
        const outgoing = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/", headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode as number,
              type: response.headers["content-type"],
              body: Buffer.concat(chunks),
            }),
          );
        });
        outgoing.on("error", reject);
        outgoing.end(body);
      });
    try {
      const request = build();
      const ok = await send(request, request.body);
      assert.equal(ok.status, 200);
      assert.equal(ok.type, "application/x-protobuf");
      assert.equal(message("EncryptResponse").decode(ok.body).toJSON().KeyId, "key-123");

      // 2 MB is over the AWS edge's 1 MB limit but within the instance API's 3 MB.
      const big = build({ input: { KeyId: "key-123", Plaintext: Buffer.alloc(2 * 1024 * 1024, 1) } });
      const bigReply = await send(big, big.body);
      assert.equal(bigReply.status, 200);

      const huge = build({ rawBody: Buffer.alloc(3 * 1024 * 1024 + 1) });
      const hugeReply = await send(huge, huge.body).catch(() => undefined);
      if (hugeReply !== undefined) {
        assert.equal(hugeReply.status, 413);
        assert.equal(decodeError(hugeReply.body).ErrorCode, "RequestEntityTooLarge");
      }

      const aws = await send(
        {
          ...request,
          headers: new Map([
            ["x-amz-target", ["TrentService.ListKeys"]],
            ["content-type", ["application/x-amz-json-1.1"]],
          ]),
        },
        Buffer.from("{}"),
      );
      assert.equal(aws.status, 200);
      assert.equal(aws.type, "application/x-amz-json-1.1");
      assert.equal(awsCalls.length, 1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
