import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import protobuf from "protobufjs";
import { type DkmsClient, stringToSign } from "./dkms-client.js";
import type { AwsFixtures } from "./fuzz-aws.js";
import {
  applyHeaderEdits,
  checkKmsError,
  type Framing,
  frame,
  type HeaderEdit,
  headerEdit,
  headerValue,
} from "./fuzz-aws.js";
import type { WireRequest, WireResponse } from "./fuzz-http.js";
import {
  type BodyMutation,
  type ByteMutation,
  blobMutation,
  bodyMutation,
  hostileKey,
  type MutationContext,
  mutateBody,
  mutateBytes,
} from "./fuzz-mutations.js";

/**
 * The Alibaba instance-API half of the fuzzer: valid dkms-gcs-0.2 protobuf requests signed as the
 * SDKs sign them (RSA-SHA256 over the SDK's string to sign, with the ClientKey Trent wrote), then
 * mutated in their fields, bytes, headers and signature. Mutations the signature covers are made
 * before signing, so they reach the operations.
 */

function findProto(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "src", "protocol", "alibaba", "api.proto");
    if (existsSync(file)) return file;
  }
  throw new Error("src/protocol/alibaba/api.proto not found above this file");
}

const root = new protobuf.Root().loadSync(findProto(), { keepCase: true });
const ERROR = root.lookupType("Error");

export interface AlibabaFixtures {
  readonly symmetric: string;
  readonly alias: string;
  readonly eccSign: string;
  readonly rsaEncrypt: string;
  readonly hmac: string;
  readonly aad: Buffer;
  readonly sealed: { readonly blob: Buffer; readonly iv: Buffer };
  readonly advanceBlob: Buffer;
  readonly rsaBlob: Buffer;
  readonly digest: Buffer;
  readonly signature: Buffer;
}

/** Ciphertexts and a signature made over HTTPS by the tests' own dkms-gcs client, on the AWS fixtures' keys. */
export async function createAlibabaFixtures(client: DkmsClient, aws: AwsFixtures): Promise<AlibabaFixtures> {
  const ok = async (api: string, fields: Record<string, unknown>) => {
    const reply = await client.call(api, fields);
    if (reply.status !== 200) throw new Error(`${api} for the fuzz fixtures: ${JSON.stringify(reply.message)}`);
    return reply.message;
  };
  const aad = Buffer.from("fuzz aad");
  const plaintext = Buffer.from("fuzz plaintext");
  const sealed = await ok("Encrypt", { KeyId: aws.symmetric.id, Plaintext: plaintext, Aad: aad });
  const advanced = await ok("AdvanceEncrypt", { KeyId: aws.symmetric.id, Plaintext: plaintext, Aad: aad });
  const rsa = await ok("Encrypt", { KeyId: aws.rsaEncrypt.id, Plaintext: plaintext, Algorithm: "RSAES_OAEP_SHA_256" });
  const digest = createHash("sha256").update("fuzz message").digest();
  const signed = await ok("Sign", {
    KeyId: aws.eccSign.id,
    Algorithm: "ECDSA_SHA_256",
    Digest: digest,
    MessageType: "DIGEST",
  });
  return {
    symmetric: aws.symmetric.id,
    alias: aws.alias,
    eccSign: aws.eccSign.id,
    rsaEncrypt: aws.rsaEncrypt.id,
    hmac: aws.hmac.id,
    aad,
    sealed: { blob: sealed.CiphertextBlob as Buffer, iv: sealed.Iv as Buffer },
    advanceBlob: advanced.CiphertextBlob as Buffer,
    rsaBlob: rsa.CiphertextBlob as Buffer,
    digest,
    signature: signed.Signature as Buffer,
  };
}

export interface AlibabaCall {
  readonly api: string;
  readonly fields: Record<string, unknown>;
}

const bytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b));

export function alibabaCall(f: AlibabaFixtures): fc.Arbitrary<AlibabaCall> {
  const keyId = fc.constantFrom(f.symmetric, f.alias);
  const call = (api: string, fields: fc.Arbitrary<Record<string, unknown>>) =>
    fields.map((value): AlibabaCall => ({ api, fields: value }));
  const pair = fc.record({
    KeyId: keyId,
    KeyPairSpec: fc.constantFrom("EC_P256", "EC_P256K"),
    KeyFormat: fc.constantFrom("PEM", "DER"),
    Aad: bytes(0, 32),
  });
  return fc.oneof(
    { weight: 4, arbitrary: call("Encrypt", fc.record({ KeyId: keyId, Plaintext: bytes(1, 256), Aad: bytes(0, 32) })) },
    {
      weight: 4,
      arbitrary: call(
        "Decrypt",
        fc.constant({
          KeyId: f.symmetric,
          CiphertextBlob: f.sealed.blob,
          Iv: f.sealed.iv,
          Aad: f.aad,
          Algorithm: "AES_GCM",
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "Decrypt",
        fc.constant({ KeyId: f.rsaEncrypt, CiphertextBlob: f.rsaBlob, Algorithm: "RSAES_OAEP_SHA_256" }),
      ),
    },
    {
      weight: 3,
      arbitrary: call("AdvanceEncrypt", fc.record({ KeyId: keyId, Plaintext: bytes(1, 256), Aad: bytes(0, 32) })),
    },
    { weight: 4, arbitrary: call("AdvanceDecrypt", fc.constant({ CiphertextBlob: f.advanceBlob, Aad: f.aad })) },
    {
      weight: 3,
      arbitrary: call(
        "GenerateDataKey",
        fc.record({ KeyId: keyId, NumberOfBytes: fc.integer({ min: 1, max: 1024 }), Aad: bytes(0, 16) }),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "AdvanceGenerateDataKey",
        fc.record({ KeyId: keyId, NumberOfBytes: fc.integer({ min: 1, max: 1024 }), Aad: bytes(0, 16) }),
      ),
    },
    ...[
      "GenerateDataKeyPair",
      "GenerateDataKeyPairWithoutPlaintext",
      "AdvanceGenerateDataKeyPair",
      "AdvanceGenerateDataKeyPairWithoutPlaintext",
    ].map((api) => ({ weight: 1, arbitrary: call(api, pair) })),
    {
      weight: 2,
      arbitrary: call(
        "Sign",
        fc.oneof(
          bytes(32, 32).map((Digest) => ({
            KeyId: f.eccSign,
            Algorithm: "ECDSA_SHA_256",
            Digest,
            MessageType: "DIGEST",
          })),
          bytes(1, 200).map((Message) => ({
            KeyId: f.eccSign,
            Algorithm: "ECDSA_SHA_256",
            Message,
            MessageType: "RAW",
          })),
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "Verify",
        fc.constant({
          KeyId: f.eccSign,
          Algorithm: "ECDSA_SHA_256",
          Digest: f.digest,
          Signature: f.signature,
          MessageType: "DIGEST",
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "Hmac",
        bytes(1, 200).map((Message) => ({ KeyId: f.hmac, Message })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GenerateRandom",
        fc.integer({ min: 1, max: 1024 }).map((Length) => ({ Length })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GetPublicKey",
        fc.constantFrom(f.eccSign, f.rsaEncrypt).map((KeyId) => ({ KeyId })),
      ),
    },
    { weight: 1, arbitrary: call("GetSecretValue", fc.constant({ SecretName: "fuzz" })) },
  );
}

export function alibabaMutationContext(aws: MutationContext, f: AlibabaFixtures): MutationContext {
  return { keyIds: aws.keyIds, blobs: [f.sealed.blob, f.advanceBlob, f.rsaBlob, ...aws.blobs] };
}

/** A field of the request message, named by its index among the message's fields. */
export type FieldMutation =
  | {
      readonly op: "set";
      readonly field: number;
      readonly text: string;
      readonly bytes: Uint8Array;
      readonly int: number;
    }
  | { readonly op: "remove"; readonly field: number }
  | { readonly op: "blob"; readonly field: number; readonly mutation: ByteMutation };

const fieldMutation: fc.Arbitrary<FieldMutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("set"),
      field: fc.nat(),
      text: hostileKey,
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 6000, max: 70_000 }).map((length) => new Uint8Array(length)),
      ),
      int: fc.oneof(fc.constantFrom(0, -1, 1, 1025, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 12, 16, 32), fc.integer()),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("remove"), field: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("blob"), field: fc.nat(), mutation: blobMutation }) },
);

/** Mutations of the encoded message; the protobuf-specific ones write fields a decoder may refuse. */
export type ProtobufMutation =
  | { readonly op: "body"; readonly mutation: BodyMutation }
  | {
      readonly op: "appendField";
      readonly fieldNumber: number;
      readonly wireType: number;
      readonly payload: Uint8Array;
    }
  | { readonly op: "hugeLength"; readonly fieldNumber: number; readonly length: number };

const protobufMutation: fc.Arbitrary<ProtobufMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("body"), mutation: bodyMutation }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("appendField"),
      fieldNumber: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(2 ** 29 - 1, 1000, 19000)),
      wireType: fc.integer({ min: 0, max: 7 }),
      payload: fc.uint8Array({ maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("hugeLength"),
      fieldNumber: fc.integer({ min: 1, max: 6 }),
      length: fc.constantFrom(2 ** 31 - 1, 2 ** 32 - 1, 2 ** 28, 3 * 1024 * 1024),
    }),
  },
);

function varint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

function mutateProtobuf(body: Buffer, mutation: ProtobufMutation, context: MutationContext): Buffer {
  switch (mutation.op) {
    case "body":
      return mutateBody(body, mutation.mutation, context);
    case "appendField": {
      const tag = varint(mutation.fieldNumber * 8 + mutation.wireType);
      const payload = Buffer.from(mutation.payload);
      const value = mutation.wireType === 2 ? Buffer.concat([varint(payload.length), payload]) : payload;
      return Buffer.concat([body, tag, value]);
    }
    case "hugeLength":
      return Buffer.concat([body, varint(mutation.fieldNumber * 8 + 2), varint(mutation.length), Buffer.from("abc")]);
  }
}

function mutateFields(
  type: protobuf.Type,
  fields: Record<string, unknown>,
  mutation: FieldMutation,
  context: MutationContext,
) {
  const field = type.fieldsArray[mutation.field % type.fieldsArray.length] as protobuf.Field;
  const result = { ...fields };
  switch (mutation.op) {
    case "remove":
      delete result[field.name];
      break;
    case "set":
      result[field.name] =
        field.type === "bytes" ? Buffer.from(mutation.bytes) : field.type === "string" ? mutation.text : mutation.int;
      break;
    case "blob":
      if (field.type === "bytes") {
        result[field.name] = mutateBytes(
          Buffer.from((fields[field.name] as Uint8Array | undefined) ?? []),
          mutation.mutation,
          context,
        );
      }
      break;
  }
  return result;
}

export interface AlibabaSigning {
  readonly mode: "valid" | "staleBody" | "unsigned" | "wrongKey" | "wrongContentSha256";
  readonly skewSeconds: number;
}

const validSigning: AlibabaSigning = { mode: "valid", skewSeconds: 0 };

const alibabaSigning: fc.Arbitrary<AlibabaSigning> = fc.record({
  mode: fc.constantFrom("valid", "staleBody", "unsigned", "wrongKey", "wrongContentSha256"),
  skewSeconds: fc.oneof(
    fc.constant(0),
    fc.constantFrom(-899, 899, -901, 901, -86_400, 86_400, -400_000_000, 400_000_000),
    fc.integer({ min: -1000, max: 1000 }),
  ),
});

const ALIBABA_HEADER_NAMES = [
  "x-kms-apiname",
  "x-kms-apiversion",
  "x-kms-signaturemethod",
  "x-kms-acccesskeyid",
  "x-kms-accesskeyid",
  "x-kms-extra",
  "date",
  "content-type",
  "content-sha256",
  "authorization",
  "accept",
  "host",
  "content-length",
  "transfer-encoding",
  "expect",
  "X-Kms-ApiName",
];

const ALIBABA_HEADER_VALUES = [
  "Encrypt",
  "Decrypt",
  "AdvanceDecrypt",
  "GetSecretValue",
  "Error",
  "EncryptRequest",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "",
  "dkms-gcs-0.2",
  "dkms-gcs-0.1",
  "DKMS-GCS-0.2",
  "RSA_PKCS1_SHA_256",
  "RSA_PSS_SHA_256",
  "KAAP.00000000-0000-0000-0000-000000000000",
  "KAAP.",
  " ",
  "Bearer ",
  "Bearer !!!!",
  "Bearer AAAA",
  "bearer AAAA",
  "application/x-protobuf",
  "application/json",
  "Thu, 01 Feb 2024 08:00:00 GMT",
  "Thu, 31 Feb 2024 08:00:00 GMT",
  "Mon, 99 Jan 2024 25:61:61 GMT",
  "2024-02-01T08:00:00Z",
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
];

const alibabaHeaderEdit = headerEdit(
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ALIBABA_HEADER_NAMES) },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 12 }) },
  ),
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ALIBABA_HEADER_VALUES) }, { weight: 2, arbitrary: headerValue }),
);

export interface AlibabaCase {
  readonly call: AlibabaCall;
  readonly fields: readonly FieldMutation[];
  readonly bytes: readonly ProtobufMutation[];
  readonly signedHeaders: readonly HeaderEdit[];
  readonly signing: AlibabaSigning;
  readonly headers: readonly HeaderEdit[];
  readonly framing: Framing;
}

export function alibabaCase(fixtures: AlibabaFixtures): fc.Arbitrary<AlibabaCase> {
  const none = {
    fields: [] as FieldMutation[],
    bytes: [] as ProtobufMutation[],
    signedHeaders: [] as HeaderEdit[],
    signing: validSigning,
    headers: [] as HeaderEdit[],
    framing: { kind: "exact" } as Framing,
  };
  const some = <T>(arbitrary: fc.Arbitrary<T>) => fc.array(arbitrary, { minLength: 1, maxLength: 3 });
  const mutations = fc.oneof(
    { weight: 12, arbitrary: fc.constant(none) },
    { weight: 40, arbitrary: some(fieldMutation).map((fields) => ({ ...none, fields })) },
    { weight: 15, arbitrary: some(protobufMutation).map((bytes) => ({ ...none, bytes })) },
    { weight: 12, arbitrary: some(alibabaHeaderEdit).map((signedHeaders) => ({ ...none, signedHeaders })) },
    { weight: 5, arbitrary: some(alibabaHeaderEdit).map((headers) => ({ ...none, headers })) },
    { weight: 8, arbitrary: alibabaSigning.map((signing) => ({ ...none, signing })) },
    {
      weight: 3,
      arbitrary: fc.record({
        fields: fc.array(fieldMutation, { maxLength: 2 }),
        bytes: fc.array(protobufMutation, { maxLength: 1 }),
        signedHeaders: fc.array(alibabaHeaderEdit, { maxLength: 2 }),
        signing: alibabaSigning,
        headers: fc.array(alibabaHeaderEdit, { maxLength: 2 }),
        framing: fc.constant(none.framing),
      }),
    },
  );
  return fc.tuple(alibabaCall(fixtures), mutations).map(([call, mutation]) => ({ call, ...mutation }));
}

export interface AlibabaSigner {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

const API_VERSION = "dkms-gcs-0.2";
const CONTENT_TYPE = "application/x-protobuf";
const sha256Hex = (body: Buffer) => createHash("sha256").update(body).digest("hex").toUpperCase();

let strangerKey: KeyObject | undefined;

/** Another RSA key, for signatures that are well formed but not the client key's. */
function stranger(): KeyObject {
  strangerKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  return strangerKey;
}

export class AlibabaRequestBuilder {
  private readonly host: string;

  constructor(
    url: string,
    private readonly signer: AlibabaSigner,
    private readonly context: MutationContext,
  ) {
    this.host = new URL(url).host;
  }

  withUrl(url: string): AlibabaRequestBuilder {
    return new AlibabaRequestBuilder(url, this.signer, this.context);
  }

  build(testCase: AlibabaCase, now: number): WireRequest {
    const type = root.lookupType(`${testCase.call.api}Request`);
    const encode = (fields: Record<string, unknown>) => Buffer.from(type.encode(type.fromObject(fields)).finish());
    const validBody = encode(testCase.call.fields);
    let fields = testCase.call.fields;
    for (const mutation of testCase.fields) fields = mutateFields(type, fields, mutation, this.context);
    let body: Buffer = encode(fields);
    for (const mutation of testCase.bytes) body = mutateProtobuf(body, mutation, this.context);
    const { mode, skewSeconds } = testCase.signing;
    const hashed = mode === "staleBody" ? validBody : body;
    let headers: [string, string][] = [
      ["accept", CONTENT_TYPE],
      ["host", this.host],
      ["date", new Date(now + skewSeconds * 1000).toUTCString()],
      ["user-agent", "trent-fuzz"],
      ["x-kms-apiversion", API_VERSION],
      ["x-kms-apiname", testCase.call.api],
      ["x-kms-signaturemethod", "RSA_PKCS1_SHA_256"],
      ["x-kms-acccesskeyid", this.signer.keyId],
      ["content-type", CONTENT_TYPE],
      ["content-sha256", mode === "wrongContentSha256" ? sha256Hex(Buffer.from("other")) : sha256Hex(hashed)],
    ];
    headers = applyHeaderEdits(headers, testCase.signedHeaders);
    if (mode !== "unsigned") {
      const record: Record<string, string> = {};
      for (const [name, value] of headers) record[name.toLowerCase()] = value;
      const key = mode === "wrongKey" ? stranger() : this.signer.privateKey;
      const signature = sign("sha256", Buffer.from(stringToSign("POST", record), "utf8"), key);
      headers.push(["authorization", `Bearer ${signature.toString("base64")}`]);
    }
    headers = applyHeaderEdits(headers, testCase.headers);
    return { method: "POST", target: "/", ...frame(headers, body, testCase.framing) };
  }
}

/** Null when the answer is one the Alibaba edge may give; otherwise what is wrong with it. */
export function checkAlibabaResponse(request: WireRequest, response: WireResponse): string | null {
  if (response.status >= 500) return `HTTP ${response.status}`;
  if (request.method === "HEAD") return null;
  const contentType = response.headers.get("content-type")?.[0];
  if (contentType === "application/x-amz-json-1.1") {
    // A request the HTTP parser refused never reached an edge: the listener answers it in AWS's form and closes.
    if (!response.close) return "a JSON answer on the Alibaba route";
    return checkKmsError(response.body.toString("utf8"));
  }
  if (contentType !== CONTENT_TYPE) return `content-type ${contentType}`;
  if (response.status === 200) {
    const api = apiNameOf(request);
    try {
      root.lookupType(`${api}Response`).decode(response.body);
    } catch (error) {
      return `a 200 body that is not a ${api}Response: ${(error as Error).message}`;
    }
    return null;
  }
  let decoded: { StatusCode?: number; ErrorCode?: string };
  try {
    decoded = ERROR.toObject(ERROR.decode(response.body)) as typeof decoded;
  } catch {
    return "an error body that is not a protobuf Error";
  }
  if (typeof decoded.ErrorCode !== "string" || decoded.ErrorCode === "") return "a protobuf Error without an ErrorCode";
  if (decoded.StatusCode !== response.status) return `a protobuf Error with StatusCode ${decoded.StatusCode}`;
  return null;
}

function apiNameOf(request: WireRequest): string {
  return request.headers.find(([name]) => name.toLowerCase() === "x-kms-apiname")?.[1] ?? "";
}

export function alibabaErrorCode(request: WireRequest, response: WireResponse): string | null {
  if (response.status === 200 || request.method === "HEAD") return null;
  try {
    if (response.headers.get("content-type")?.[0] !== CONTENT_TYPE) return null;
    return `alibaba:${(ERROR.decode(response.body) as unknown as { ErrorCode: string }).ErrorCode}`;
  } catch {
    return null;
  }
}
