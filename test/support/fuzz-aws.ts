import { createECDH, randomUUID } from "node:crypto";
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  type KeySpec,
  type KeyUsageType,
  KMSClient,
  ListKeysCommand,
  SignCommand,
} from "@aws-sdk/client-kms";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import fc from "fast-check";
import kmsModel from "../../src/protocol/aws/kms-model.json" with { type: "json" };
import type { WireRequest, WireResponse } from "./fuzz-http.js";
import {
  anyUnicode,
  type BodyMutation,
  bodyMutation,
  type JsonMutation,
  jsonMutation,
  type MutationContext,
  mutateBody,
  mutateJson,
  serializeTree,
  toTree,
} from "./fuzz-mutations.js";

/**
 * The AWS JSON 1.1 half of the fuzzer: valid, SigV4-signed requests for most KMS operations,
 * made from fixtures a real client (@aws-sdk/client-kms) created, then mutated in their body,
 * headers, signature and framing. The signature is computed after the mutations it covers, so
 * a mutated body reaches the operations rather than stopping at authentication.
 */

export interface AwsTarget {
  readonly url: string;
  readonly region: string;
  readonly accountId: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

interface KeyRef {
  readonly id: string;
  readonly arn: string;
}

export interface AwsFixtures {
  readonly adminArn: string;
  readonly symmetric: KeyRef;
  readonly secondSymmetric: KeyRef;
  readonly alias: string;
  readonly aliasArn: string;
  readonly rsaEncrypt: KeyRef;
  readonly rsaSign: KeyRef;
  readonly eccSign: KeyRef;
  readonly hmac: KeyRef;
  readonly eccAgreement: KeyRef;
  /** Keys the fuzzer may disable, schedule for deletion, re-policy, tag and alias. */
  readonly scratch: readonly KeyRef[];
  readonly scratchAliases: readonly string[];
  readonly ciphertexts: readonly { readonly blob: Buffer; readonly context: Record<string, string> }[];
  readonly rsaCiphertext: Buffer;
  readonly eccSignature: { readonly message: Buffer; readonly signature: Buffer };
  readonly mac: { readonly message: Buffer; readonly mac: Buffer };
  /** A grant on `symmetric` that the fuzzer may retire or revoke. */
  readonly grant: { readonly id: string; readonly token: string };
  readonly listKeysMarker: string;
  readonly peerPublicKey: Buffer;
  /** A Nitro-shaped attestation document the server trusts, for Recipient. */
  readonly attestationDocument: Buffer;
}

const SCRATCH_KEYS = 6;

function keyRef(metadata: { KeyId?: string | undefined; Arn?: string | undefined } | undefined): KeyRef {
  return { id: metadata?.KeyId as string, arn: metadata?.Arn as string };
}

/** Creates the keys, ciphertexts, signatures and grants the requests are made from. */
export async function createAwsFixtures(target: AwsTarget, attestationDocument: Buffer): Promise<AwsFixtures> {
  const kms = new KMSClient({
    endpoint: target.url,
    region: target.region,
    credentials: target.credentials,
    // AWS's quotas allow 5 CreateKey and CreateAlias a second: the SDK's backoff waits them out.
    maxAttempts: 20,
  });
  try {
    const create = async (KeySpec?: KeySpec, KeyUsage?: KeyUsageType) =>
      keyRef(
        (
          await kms.send(
            new CreateKeyCommand({
              Description: "fuzz fixture",
              ...(KeySpec ? { KeySpec } : {}),
              ...(KeyUsage ? { KeyUsage } : {}),
            }),
          )
        ).KeyMetadata,
      );
    const symmetric = await create();
    const secondSymmetric = await create();
    const rsaEncrypt = await create("RSA_2048", "ENCRYPT_DECRYPT");
    const rsaSign = await create("RSA_2048", "SIGN_VERIFY");
    const eccSign = await create("ECC_NIST_P256", "SIGN_VERIFY");
    const hmac = await create("HMAC_256", "GENERATE_VERIFY_MAC");
    const eccAgreement = await create("ECC_NIST_P256", "KEY_AGREEMENT");
    const scratch: KeyRef[] = [];
    for (let i = 0; i < SCRATCH_KEYS; i++) scratch.push(await create());
    const suffix = randomUUID().slice(0, 8);
    const alias = `alias/fuzz-main-${suffix}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: symmetric.id }));
    const scratchAliases = scratch.map((_, index) => `alias/fuzz-scratch-${suffix}-${index}`);
    for (const [index, name] of scratchAliases.entries()) {
      await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: (scratch[index] as KeyRef).id }));
    }
    const ciphertexts: { blob: Buffer; context: Record<string, string> }[] = [];
    for (const [keyId, context] of [
      [symmetric.id, {}],
      [symmetric.id, { purpose: "fuzz", é: "😀" }],
      [secondSymmetric.id, { a: "b" }],
    ] as const) {
      const sealed = await kms.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("fuzz plaintext"), EncryptionContext: context }),
      );
      ciphertexts.push({ blob: Buffer.from(sealed.CiphertextBlob as Uint8Array), context });
    }
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: symmetric.id, NumberOfBytes: 32 }));
    ciphertexts.push({ blob: Buffer.from(dataKey.CiphertextBlob as Uint8Array), context: {} });
    const rsaCiphertext = Buffer.from(
      (
        await kms.send(
          new EncryptCommand({
            KeyId: rsaEncrypt.id,
            Plaintext: Buffer.from("rsa fuzz"),
            EncryptionAlgorithm: "RSAES_OAEP_SHA_256",
          }),
        )
      ).CiphertextBlob as Uint8Array,
    );
    const message = Buffer.from("fuzz message");
    const signature = Buffer.from(
      (await kms.send(new SignCommand({ KeyId: eccSign.id, Message: message, SigningAlgorithm: "ECDSA_SHA_256" })))
        .Signature as Uint8Array,
    );
    const mac = Buffer.from(
      (await kms.send(new GenerateMacCommand({ KeyId: hmac.id, Message: message, MacAlgorithm: "HMAC_SHA_256" })))
        .Mac as Uint8Array,
    );
    const adminArn = `arn:aws:iam::${target.accountId}:user/admin`;
    const grant = await kms.send(
      new CreateGrantCommand({
        KeyId: symmetric.id,
        GranteePrincipal: adminArn,
        RetiringPrincipal: adminArn,
        Operations: ["Decrypt", "Encrypt"],
      }),
    );
    const listKeysMarker = (await kms.send(new ListKeysCommand({ Limit: 2 }))).NextMarker as string;
    const peer = createECDH("prime256v1");
    peer.generateKeys();
    return {
      adminArn,
      symmetric,
      secondSymmetric,
      alias,
      aliasArn: `arn:aws:kms:${target.region}:${target.accountId}:${alias}`,
      rsaEncrypt,
      rsaSign,
      eccSign,
      hmac,
      eccAgreement,
      scratch,
      scratchAliases,
      ciphertexts,
      rsaCiphertext,
      eccSignature: { message, signature },
      mac: { message, mac },
      grant: { id: grant.GrantId as string, token: grant.GrantToken as string },
      listKeysMarker,
      peerPublicKey: p256SubjectPublicKeyInfo(peer.getPublicKey()),
      attestationDocument,
    };
  } finally {
    kms.destroy();
  }
}

/** DER SubjectPublicKeyInfo of an uncompressed P-256 point: the fixed prefix, then the point. */
function p256SubjectPublicKeyInfo(point: Buffer): Buffer {
  return Buffer.concat([Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"), point]);
}

export function awsMutationContext(fixtures: AwsFixtures): MutationContext {
  const keys = [
    fixtures.symmetric,
    fixtures.secondSymmetric,
    fixtures.rsaEncrypt,
    fixtures.hmac,
    ...fixtures.scratch.slice(0, 2),
  ];
  return {
    keyIds: [
      ...keys.map((key) => key.id),
      "",
      "x".repeat(255),
      "mrk-00000000000000000000000000000000",
      randomUUID(),
      fixtures.alias,
      fixtures.symmetric.arn,
    ],
    blobs: [...fixtures.ciphertexts.map((entry) => entry.blob), fixtures.rsaCiphertext],
  };
}

/** The fields whose values are base64 blobs in the KMS model, where blob mutations apply. */
export const AWS_BLOB_FIELDS: ReadonlySet<string> = new Set([
  "CiphertextBlob",
  "Plaintext",
  "Message",
  "Signature",
  "Mac",
  "PublicKey",
  "AttestationDocument",
]);

export interface AwsCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/**
 * Key policies the admin stays able to use, from the account's default to ones with conditions
 * of each operator family and NotAction: the "inner" JSON mutation works on them from there.
 */
function keyPolicies(adminArn: string): string[] {
  const root = adminArn.replace(/:user\/.*$/, ":root");
  const allowRoot = { Sid: "Root", Effect: "Allow", Principal: { AWS: root }, Action: "kms:*", Resource: "*" };
  return [
    { Version: "2012-10-17", Statement: [allowRoot] },
    {
      Version: "2012-10-17",
      Id: "fuzz-conditions",
      Statement: [
        allowRoot,
        {
          Sid: "Conditions",
          Effect: "Allow",
          Principal: { AWS: [adminArn] },
          Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
          Resource: "*",
          Condition: {
            StringEquals: { "kms:EncryptionContext:purpose": "fuzz" },
            Bool: { "aws:SecureTransport": "false" },
            IpAddress: { "aws:SourceIp": ["127.0.0.0/8", "::1/128"] },
            DateGreaterThan: { "aws:CurrentTime": "2020-01-01T00:00:00Z" },
            NumericLessThanEquals: { "kms:ValidTo": "4102444800" },
          },
        },
        {
          Sid: "Grants",
          Effect: "Allow",
          Principal: { AWS: adminArn },
          Action: ["kms:CreateGrant", "kms:ListGrants"],
          Resource: "*",
          Condition: {
            Bool: { "kms:GrantIsForAWSResource": "false" },
            "ForAllValues:StringEquals": { "kms:GrantOperations": ["Decrypt", "Encrypt"] },
            StringLikeIfExists: { "kms:ViaService": "*.amazonaws.com" },
          },
        },
        {
          Sid: "DenyOtherAccounts",
          Effect: "Deny",
          Principal: "*",
          Action: "kms:*",
          Resource: "*",
          Condition: { StringNotEquals: { "kms:CallerAccount": root.split(":")[4] } },
        },
      ],
    },
    {
      Version: "2012-10-17",
      Statement: [
        allowRoot,
        {
          Effect: "Deny",
          Principal: { AWS: "*" },
          NotAction: ["kms:Describe*", "kms:Get*", "kms:List*", "kms:PutKeyPolicy", "kms:Encrypt", "kms:Decrypt"],
          Resource: "*",
          Condition: { Null: { "aws:SourceIp": "true" } },
        },
      ],
    },
  ].map((policy) => JSON.stringify(policy));
}
const plaintext = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 96 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4096 }).map((length) => Buffer.alloc(length, 0x5a)) },
);
const encryptionContext = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 24 }), {
  maxKeys: 3,
});
const optional = <T>(name: string, value: fc.Arbitrary<T>) =>
  fc.option(value, { nil: undefined }).map((v) => (v === undefined ? {} : { [name]: v }));

function call(operation: string, input: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<AwsCall> {
  return input.map((fields) => ({ operation, input: fields }));
}

/** Valid requests, weighted towards the cryptographic operations a KMS mostly serves. */
export function awsCall(fixtures: AwsFixtures): fc.Arbitrary<AwsCall> {
  const f = fixtures;
  const symmetricId = fc.constantFrom(f.symmetric.id, f.symmetric.arn, f.alias, f.aliasArn, f.secondSymmetric.id);
  const scratch = fc.constantFrom(...f.scratch.flatMap((key) => [key.id, key.arn]));
  const anyKey = fc.constantFrom(
    ...[f.symmetric, f.secondSymmetric, f.rsaEncrypt, f.rsaSign, f.eccSign, f.hmac, f.eccAgreement, ...f.scratch].map(
      (key) => key.id,
    ),
    f.alias,
  );
  const ciphertext = fc.constantFrom(...f.ciphertexts);
  const pairSpec = fc.constantFrom("ECC_NIST_P256", "ECC_NIST_P384", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "SM2");
  const limit = optional("Limit", fc.integer({ min: 1, max: 1000 }));
  const recipient = {
    Recipient: { KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_256", AttestationDocument: b64(f.attestationDocument) },
  };
  const grantTokens = optional("GrantTokens", fc.constant([f.grant.token]));
  return fc.oneof(
    {
      weight: 10,
      arbitrary: call(
        "Encrypt",
        fc
          .tuple(symmetricId, plaintext, optional("EncryptionContext", encryptionContext), grantTokens)
          .map(([KeyId, bytes, context, tokens]) => ({ KeyId, Plaintext: b64(bytes), ...context, ...tokens })),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "Encrypt",
        fc
          .tuple(
            fc.uint8Array({ minLength: 1, maxLength: 190 }),
            fc.constantFrom("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"),
          )
          .map(([bytes, EncryptionAlgorithm]) => ({
            KeyId: f.rsaEncrypt.id,
            Plaintext: b64(bytes),
            EncryptionAlgorithm,
          })),
      ),
    },
    {
      weight: 12,
      arbitrary: call(
        "Decrypt",
        fc
          .tuple(ciphertext, optional("KeyId", fc.constantFrom(f.symmetric.id, f.secondSymmetric.arn)), grantTokens)
          .map(([entry, keyId, tokens]) => ({
            CiphertextBlob: b64(entry.blob),
            EncryptionContext: entry.context,
            ...keyId,
            ...tokens,
          })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "Decrypt",
        ciphertext.map((entry) => ({
          CiphertextBlob: b64(entry.blob),
          EncryptionContext: entry.context,
          DryRun: true,
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GenerateDataKey",
        symmetricId.map((KeyId) => ({ KeyId, NumberOfBytes: 32, DryRun: true, GrantTokens: [f.grant.token] })),
      ),
    },
    // Recipient: a CBOR/COSE attestation document and a CMS envelope on the way out.
    {
      weight: 2,
      arbitrary: call(
        "Decrypt",
        ciphertext.map((entry) => ({
          CiphertextBlob: b64(entry.blob),
          EncryptionContext: entry.context,
          ...recipient,
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GenerateDataKey",
        symmetricId.map((KeyId) => ({ KeyId, KeySpec: "AES_256", ...recipient })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GenerateDataKeyPair",
        fc.tuple(symmetricId, pairSpec).map(([KeyId, KeyPairSpec]) => ({ KeyId, KeyPairSpec, ...recipient })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GenerateRandom",
        fc.integer({ min: 1, max: 1024 }).map((NumberOfBytes) => ({ NumberOfBytes, ...recipient })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "DeriveSharedSecret",
        fc.constant({
          KeyId: f.eccAgreement.id,
          KeyAgreementAlgorithm: "ECDH",
          PublicKey: b64(f.peerPublicKey),
          ...recipient,
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "Decrypt",
        fc.constant({
          CiphertextBlob: b64(f.rsaCiphertext),
          KeyId: f.rsaEncrypt.id,
          EncryptionAlgorithm: "RSAES_OAEP_SHA_256",
        }),
      ),
    },
    ...(["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"] as const).map((operation) => ({
      weight: 6,
      arbitrary: call(
        operation,
        fc
          .tuple(
            symmetricId,
            fc.oneof(
              fc.constantFrom("AES_256", "AES_128").map((KeySpec) => ({ KeySpec })),
              fc.integer({ min: 1, max: 1024 }).map((NumberOfBytes) => ({ NumberOfBytes })),
            ),
            optional("EncryptionContext", encryptionContext),
          )
          .map(([KeyId, size, context]) => ({ KeyId, ...size, ...context })),
      ),
    })),
    ...(["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"] as const).map((operation) => ({
      weight: 2,
      arbitrary: call(
        operation,
        fc
          .tuple(symmetricId, pairSpec, optional("EncryptionContext", encryptionContext))
          .map(([KeyId, KeyPairSpec, context]) => ({ KeyId, KeyPairSpec, ...context })),
      ),
    })),
    {
      weight: 5,
      arbitrary: call(
        "ReEncrypt",
        fc
          .tuple(ciphertext, symmetricId, optional("DestinationEncryptionContext", encryptionContext))
          .map(([entry, DestinationKeyId, context]) => ({
            CiphertextBlob: b64(entry.blob),
            SourceEncryptionContext: entry.context,
            DestinationKeyId,
            ...context,
          })),
      ),
    },
    {
      weight: 4,
      arbitrary: call(
        "Sign",
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 200 }).map((message) => ({
            KeyId: f.eccSign.id,
            Message: b64(message),
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          })),
          fc.uint8Array({ minLength: 32, maxLength: 32 }).map((digest) => ({
            KeyId: f.eccSign.arn,
            Message: b64(digest),
            MessageType: "DIGEST",
            SigningAlgorithm: "ECDSA_SHA_256",
          })),
          fc
            .tuple(
              fc.uint8Array({ minLength: 1, maxLength: 200 }),
              fc.constantFrom("RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256"),
            )
            .map(([message, SigningAlgorithm]) => ({ KeyId: f.rsaSign.id, Message: b64(message), SigningAlgorithm })),
        ),
      ),
    },
    {
      weight: 4,
      arbitrary: call(
        "Verify",
        fc.constant({
          KeyId: f.eccSign.id,
          Message: b64(f.eccSignature.message),
          Signature: b64(f.eccSignature.signature),
          SigningAlgorithm: "ECDSA_SHA_256",
          MessageType: "RAW",
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: call(
        "GenerateMac",
        fc.uint8Array({ minLength: 1, maxLength: 200 }).map((message) => ({
          KeyId: f.hmac.id,
          Message: b64(message),
          MacAlgorithm: "HMAC_SHA_256",
        })),
      ),
    },
    {
      weight: 3,
      arbitrary: call(
        "VerifyMac",
        fc.constant({
          KeyId: f.hmac.id,
          Message: b64(f.mac.message),
          Mac: b64(f.mac.mac),
          MacAlgorithm: "HMAC_SHA_256",
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "GenerateRandom",
        fc.integer({ min: 1, max: 1024 }).map((NumberOfBytes) => ({ NumberOfBytes })),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "DeriveSharedSecret",
        fc.constant({
          KeyId: f.eccAgreement.id,
          KeyAgreementAlgorithm: "ECDH",
          PublicKey: b64(f.peerPublicKey),
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: call(
        "DescribeKey",
        anyKey.map((KeyId) => ({ KeyId })),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "GetPublicKey",
        fc.constantFrom(f.rsaEncrypt.id, f.eccSign.arn, f.eccAgreement.id).map((KeyId) => ({ KeyId })),
      ),
    },
    {
      weight: 2,
      arbitrary: call(
        "ListKeys",
        fc.tuple(limit, optional("Marker", fc.constant(f.listKeysMarker))).map(([l, marker]) => ({ ...l, ...marker })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListAliases",
        fc.tuple(optional("KeyId", fc.constant(f.symmetric.id)), limit).map(([keyId, l]) => ({ ...keyId, ...l })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListGrants",
        limit.map((l) => ({ KeyId: f.symmetric.id, ...l })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListRetirableGrants",
        limit.map((l) => ({ RetiringPrincipal: f.adminArn, ...l })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GetKeyPolicy",
        anyKey.map((KeyId) => ({ KeyId, PolicyName: "default" })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListKeyPolicies",
        anyKey.map((KeyId) => ({ KeyId })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListResourceTags",
        anyKey.map((KeyId) => ({ KeyId })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "GetKeyRotationStatus",
        anyKey.map((KeyId) => ({ KeyId })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "ListKeyRotations",
        anyKey.map((KeyId) => ({ KeyId })),
      ),
    },
    // The writes go to scratch keys, so the fixtures the other requests need stay usable.
    {
      weight: 1,
      arbitrary: call(
        "CreateKey",
        fc.oneof(
          fc.constant({}),
          fc.string({ maxLength: 40 }).map((Description) => ({ Description })),
          fc.constant({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
          fc.constant({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }),
          fc
            .tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 20 }))
            .map(([TagKey, TagValue]) => ({ Tags: [{ TagKey, TagValue }] })),
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "CreateAlias",
        fc
          .tuple(fc.stringMatching(/^[a-zA-Z0-9/_-]{1,30}$/), scratch)
          .map(([name, TargetKeyId]) => ({ AliasName: `alias/fuzz-${name}`, TargetKeyId })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "UpdateAlias",
        fc
          .tuple(fc.constantFrom(...f.scratchAliases), scratch)
          .map(([AliasName, TargetKeyId]) => ({ AliasName, TargetKeyId })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "DeleteAlias",
        fc.stringMatching(/^[a-zA-Z0-9_-]{1,20}$/).map((name) => ({ AliasName: `alias/fuzz-${name}` })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "CreateGrant",
        fc
          .tuple(
            fc.constantFrom(f.symmetric.id, ...f.scratch.map((key) => key.id)),
            fc.subarray(["Decrypt", "Encrypt", "GenerateDataKey", "ReEncryptFrom", "DescribeKey", "CreateGrant"], {
              minLength: 1,
            }),
            optional("Constraints", fc.constant({ EncryptionContextSubset: { purpose: "fuzz" } })),
          )
          .map(([KeyId, Operations, constraints]) => ({
            KeyId,
            GranteePrincipal: f.adminArn,
            Operations,
            ...constraints,
          })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "RetireGrant",
        fc.oneof(
          fc.constant({ GrantToken: f.grant.token }),
          fc.constant({ KeyId: f.symmetric.arn, GrantId: f.grant.id }),
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: call("RevokeGrant", fc.constant({ KeyId: f.symmetric.id, GrantId: f.grant.id })),
    },
    {
      weight: 2,
      arbitrary: call(
        "PutKeyPolicy",
        fc
          .tuple(scratch, fc.constantFrom(...keyPolicies(f.adminArn)))
          .map(([KeyId, Policy]) => ({ KeyId, PolicyName: "default", Policy })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "TagResource",
        fc
          .tuple(scratch, fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 20 }))
          .map(([KeyId, TagKey, TagValue]) => ({ KeyId, Tags: [{ TagKey, TagValue }] })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "UntagResource",
        fc
          .tuple(scratch, fc.string({ minLength: 1, maxLength: 20 }))
          .map(([KeyId, key]) => ({ KeyId, TagKeys: [key] })),
      ),
    },
    ...["EnableKey", "DisableKey", "CancelKeyDeletion", "DisableKeyRotation", "RotateKeyOnDemand"].map((operation) => ({
      weight: 1,
      arbitrary: call(
        operation,
        scratch.map((KeyId) => ({ KeyId })),
      ),
    })),
    {
      weight: 1,
      arbitrary: call(
        "ScheduleKeyDeletion",
        fc
          .tuple(scratch, optional("PendingWindowInDays", fc.integer({ min: 7, max: 30 })))
          .map(([KeyId, window]) => ({ KeyId, ...window })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "EnableKeyRotation",
        fc
          .tuple(scratch, optional("RotationPeriodInDays", fc.integer({ min: 90, max: 2560 })))
          .map(([KeyId, period]) => ({ KeyId, ...period })),
      ),
    },
    {
      weight: 1,
      arbitrary: call(
        "UpdateKeyDescription",
        fc.tuple(scratch, fc.string({ maxLength: 60 })).map(([KeyId, Description]) => ({ KeyId, Description })),
      ),
    },
    // Operations of the model Trent does not implement.
    {
      weight: 1,
      arbitrary: call(
        "GetParametersForImport",
        fc.constant({ KeyId: f.symmetric.id, WrappingAlgorithm: "RSAES_OAEP_SHA_256", WrappingKeySpec: "RSA_2048" }),
      ),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Headers, signing and framing

export interface HeaderEdit {
  /** `repeat` adds `count` more copies of the header (node:http routes by the first 1000 headers). */
  readonly op: "set" | "add" | "remove" | "repeat";
  readonly name: string;
  readonly value: string;
  readonly count: number;
}

const OPERATION_NAMES = Object.keys(kmsModel.operations);

const AWS_HEADER_NAMES = [
  "x-amz-target",
  "content-type",
  "host",
  "x-amz-date",
  "x-amz-content-sha256",
  "x-amz-security-token",
  "authorization",
  "content-encoding",
  "expect",
  "user-agent",
  "x-kms-apiname",
  "transfer-encoding",
  "content-length",
  "connection",
  "X-Amz-Target",
  "Content-Type",
];

const HEADER_VALUES = [
  ...OPERATION_NAMES.map((name) => `TrentService.${name}`),
  "TrentService.",
  "TrentService.encrypt",
  "TrentService.Nope",
  "TrentService.__proto__",
  "TrentService.constructor",
  "TrentService.toString",
  "TrentService.hasOwnProperty",
  "trentservice.Encrypt",
  ".Encrypt",
  "Encrypt",
  "TrentService..Encrypt",
  "TrentService.Encrypt.Decrypt",
  "application/x-amz-json-1.1",
  "application/x-amz-json-1.0",
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/X-AMZ-JSON-1.1",
  "application/x-amz-json-1.1;",
  "text/plain",
  "application/x-protobuf",
  "multipart/form-data; boundary=x",
  "gzip",
  "100-continue",
  "200-ok",
  "chunked",
  "gzip, chunked",
  "close",
  "keep-alive",
  "20250101T000000Z",
  "19700101T000000Z",
  "99991231T235959Z",
  "20250230T000000Z",
  "2025-01-01T00:00:00Z",
  "0",
  "-1",
  "99999999999999999999",
  "1e3",
  "",
  " ",
  "dkms-gcs-0.2",
  "Encrypt",
  "UNSIGNED-PAYLOAD",
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "AWS4-HMAC-SHA256",
  "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
  "Bearer abc",
  "localhost",
  "127.0.0.1:1",
  "[::1]",
];

const headerName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...AWS_HEADER_NAMES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 12 }) },
);

export const headerValue = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...HEADER_VALUES) },
  { weight: 2, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }) },
  { weight: 1, arbitrary: anyUnicode },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", ",", " ", "é"), fc.integer({ min: 100, max: 40_000 }))
      .map(([unit, length]) => unit.repeat(length)),
  },
);

export const headerEdit = (names: fc.Arbitrary<string>, values: fc.Arbitrary<string>): fc.Arbitrary<HeaderEdit> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        op: fc.constantFrom("set", "add", "remove"),
        name: names,
        value: values,
        count: fc.constant(1),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("repeat"),
        name: names,
        value: fc.constantFrom("", "x", "TrentService.Encrypt", "application/x-amz-json-1.1"),
        count: fc.integer({ min: 2, max: 3000 }),
      }),
    },
  );

export type AuthorizationEdit =
  | { readonly op: "algorithm"; readonly value: string }
  | { readonly op: "credential"; readonly part: number; readonly value: string }
  | { readonly op: "signedHeaders"; readonly value: string }
  | {
      readonly op: "signature";
      readonly change: "flip" | "truncate" | "upper" | "empty" | "extend";
      readonly at: number;
    }
  | { readonly op: "dropParameter"; readonly name: string }
  | { readonly op: "repeatParameter"; readonly name: string }
  | { readonly op: "separator"; readonly value: string }
  | { readonly op: "replace"; readonly value: string };

const PARAMETERS = ["Credential", "SignedHeaders", "Signature"];

const authorizationEdit: fc.Arbitrary<AuthorizationEdit> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("algorithm"),
      value: fc.constantFrom("AWS4-HMAC-SHA512", "AWS4-ECDSA-P256-SHA256", "AWS", "aws4-hmac-sha256", "", "Bearer"),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("credential"),
      part: fc.integer({ min: 0, max: 5 }),
      value: fc.oneof(
        fc.constantFrom("", "AKIAFUZZ0000", "20000101", "19991231", "us-east-1", "US-EAST-1", "s3", "aws4", "x/y", "é"),
        fc.string({ unit: "binary-ascii", maxLength: 30 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("signedHeaders"),
      value: fc.oneof(
        fc.constantFrom(
          "",
          "host",
          "x-amz-date",
          "host;x-amz-date",
          "host;x-amz-date;nonexistent",
          ";;",
          "HOST;X-AMZ-DATE",
        ),
        fc.string({ unit: "binary-ascii", maxLength: 40 }),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("signature"),
      change: fc.constantFrom("flip", "truncate", "upper", "empty", "extend"),
      at: fc.nat({ max: 63 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dropParameter"), name: fc.constantFrom(...PARAMETERS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("repeatParameter"), name: fc.constantFrom(...PARAMETERS) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("separator"), value: fc.constantFrom(",", ";", " ", ",,", "") }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("replace"), value: headerValue }) },
);

function editAuthorization(header: string, edit: AuthorizationEdit): string {
  const space = header.indexOf(" ");
  const algorithm = space < 0 ? header : header.slice(0, space);
  const parameters = (space < 0 ? "" : header.slice(space + 1)).split(", ");
  const withParameter = (name: string, change: (value: string) => string) =>
    parameters.map((parameter) =>
      parameter.startsWith(`${name}=`) ? `${name}=${change(parameter.slice(name.length + 1))}` : parameter,
    );
  const join = (list: string[], first = algorithm) => `${first} ${list.join(", ")}`;
  switch (edit.op) {
    case "algorithm":
      return join(parameters, edit.value);
    case "credential":
      return join(
        withParameter("Credential", (value) => {
          const parts = value.split("/");
          parts[edit.part] = edit.value;
          return parts.join("/");
        }),
      );
    case "signedHeaders":
      return join(withParameter("SignedHeaders", () => edit.value));
    case "signature":
      return join(
        withParameter("Signature", (value) => {
          switch (edit.change) {
            case "flip": {
              const digit = Number.parseInt(value[edit.at] ?? "0", 16) ^ 1;
              return `${value.slice(0, edit.at)}${digit.toString(16)}${value.slice(edit.at + 1)}`;
            }
            case "truncate":
              return value.slice(0, edit.at);
            case "upper":
              return value.toUpperCase();
            case "empty":
              return "";
            case "extend":
              return `${value}${value.slice(0, edit.at)}`;
          }
        }),
      );
    case "dropParameter":
      return join(parameters.filter((parameter) => !parameter.startsWith(`${edit.name}=`)));
    case "repeatParameter":
      return join([...parameters, ...parameters.filter((parameter) => parameter.startsWith(`${edit.name}=`))]);
    case "separator":
      return `${algorithm} ${parameters.join(edit.value)}`;
    case "replace":
      return edit.value;
  }
}

/** node:http refuses header blocks above 16 KiB with 431; sending megabytes more finds nothing new. */
const MAX_HEADER_BLOCK = 64 * 1024;

export function applyHeaderEdits(headers: [string, string][], edits: readonly HeaderEdit[]): [string, string][] {
  let result = headers;
  let size = 0;
  const within = ([name, value]: [string, string]) => {
    size += name.length + value.length + 4;
    return size <= MAX_HEADER_BLOCK;
  };
  for (const edit of edits) {
    const same = ([name]: [string, string]) => name.toLowerCase() === edit.name.toLowerCase();
    if (edit.op === "remove") result = result.filter((header) => !same(header));
    else if (edit.op === "repeat") {
      result = [...result, ...Array.from({ length: edit.count }, (): [string, string] => [edit.name, edit.value])];
    } else if (edit.op === "add" || !result.some(same)) result = [...result, [edit.name, edit.value]];
    else result = result.map((header) => (same(header) ? [header[0], edit.value] : header));
  }
  return result.filter(within);
}

/** How the body is delimited on the wire. */
export type Framing =
  | { readonly kind: "exact" }
  | { readonly kind: "chunked"; readonly chunkSize: number }
  | { readonly kind: "declared"; readonly delta: number }
  | { readonly kind: "undelimited" };

export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("chunked"), chunkSize: fc.integer({ min: 1, max: 4096 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("declared"),
      delta: fc.oneof(fc.integer({ min: -64, max: 64 }), fc.constantFrom(-1, 1, 2 ** 31, 2 ** 53)),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "undelimited" as const }) },
);

/**
 * Adds Content-Length or chunked framing to a header list, unless the mutations already wrote
 * one (perhaps wrongly).
 */
export function frame(
  headers: [string, string][],
  body: Buffer,
  how: Framing,
): { headers: [string, string][]; body: Buffer } {
  const declaredByEdits = headers.some(([header]) =>
    ["content-length", "transfer-encoding"].includes(header.toLowerCase()),
  );
  switch (how.kind) {
    case "exact":
      return { headers: declaredByEdits ? headers : [...headers, ["content-length", String(body.length)]], body };
    case "chunked": {
      const chunks: Buffer[] = [];
      for (let at = 0; at < body.length; at += how.chunkSize) {
        const chunk = body.subarray(at, at + how.chunkSize);
        chunks.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
      }
      chunks.push(Buffer.from("0\r\n\r\n"));
      return {
        headers: declaredByEdits ? headers : [...headers, ["transfer-encoding", "chunked"]],
        body: Buffer.concat(chunks),
      };
    }
    case "declared":
      return { headers: [...headers, ["content-length", String(Math.max(0, body.length + how.delta))]], body };
    case "undelimited":
      return { headers, body };
  }
}

export interface AwsSigning {
  readonly mode: "valid" | "staleBody" | "unsigned" | "wrongSecret" | "unknownAccessKey";
  /** null signs for the credentials' own region. */
  readonly region: string | null;
  readonly service: string;
  readonly skewSeconds: number;
  readonly checksumHeader: boolean;
}

const validSigning: AwsSigning = { mode: "valid", region: null, service: "kms", skewSeconds: 0, checksumHeader: true };

const awsSigning: fc.Arbitrary<AwsSigning> = fc.record({
  mode: fc.constantFrom("valid", "staleBody", "unsigned", "wrongSecret", "unknownAccessKey"),
  region: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("eu-west-1", "cn-north-1", "us-gov-west-1", "US-EAST-1", "a", "x-", "-x", "a_b", "é"),
    },
  ),
  service: fc.constantFrom("kms", "kms", "s3", "KMS", "kms "),
  skewSeconds: fc.oneof(
    fc.constant(0),
    fc.constantFrom(-299, 299, -301, 301, -86_400, 86_400, -400_000_000, 400_000_000),
    fc.integer({ min: -900, max: 900 }),
  ),
  checksumHeader: fc.boolean(),
});

export interface AwsCase {
  readonly call: AwsCall;
  readonly json: readonly JsonMutation[];
  readonly body: readonly BodyMutation[];
  /** Applied before signing, so the signature covers them. */
  readonly signedHeaders: readonly HeaderEdit[];
  readonly signing: AwsSigning;
  readonly authorization: readonly AuthorizationEdit[];
  /** Applied after signing. */
  readonly headers: readonly HeaderEdit[];
  readonly framing: Framing;
  readonly method: string;
  readonly target: string;
}

const TARGETS = [
  "/?X-Amz-Algorithm=AWS4-HMAC-SHA256",
  "/?a=1&a=2&b=%zz",
  "/health",
  "/metrics",
  "//",
  "/%2e%2e/",
  "/a/../",
  "*",
  "http://localhost/",
  "/?",
  "/#x",
  `/${"a".repeat(9000)}`,
];
const METHODS = ["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "post", "TRACE", "PROPFIND"];

/** A valid request, or one with a few mutations of one or more kinds: mostly ones that get past authentication. */
export function awsCase(fixtures: AwsFixtures): fc.Arbitrary<AwsCase> {
  const none = {
    json: [] as JsonMutation[],
    body: [] as BodyMutation[],
    signedHeaders: [] as HeaderEdit[],
    signing: validSigning,
    authorization: [] as AuthorizationEdit[],
    headers: [] as HeaderEdit[],
    framing: { kind: "exact" } as Framing,
    method: "POST",
    target: "/",
  };
  const edits = headerEdit(headerName, headerValue);
  const some = <T>(arbitrary: fc.Arbitrary<T>) => fc.array(arbitrary, { minLength: 1, maxLength: 3 });
  const mutations = fc.oneof(
    { weight: 12, arbitrary: fc.constant(none) },
    { weight: 45, arbitrary: some(jsonMutation).map((json) => ({ ...none, json })) },
    { weight: 10, arbitrary: some(bodyMutation).map((body) => ({ ...none, body })) },
    { weight: 10, arbitrary: some(edits).map((signedHeaders) => ({ ...none, signedHeaders })) },
    { weight: 5, arbitrary: some(edits).map((headers) => ({ ...none, headers })) },
    { weight: 6, arbitrary: awsSigning.map((signing) => ({ ...none, signing })) },
    { weight: 5, arbitrary: some(authorizationEdit).map((authorization) => ({ ...none, authorization })) },
    { weight: 3, arbitrary: framing.map((how) => ({ ...none, framing: how })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("POST", ...METHODS), fc.constantFrom("/", ...TARGETS))
        .map(([method, target]) => ({ ...none, method, target })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        json: fc.array(jsonMutation, { maxLength: 2 }),
        body: fc.array(bodyMutation, { maxLength: 1 }),
        signedHeaders: fc.array(edits, { maxLength: 2 }),
        signing: awsSigning,
        authorization: fc.array(authorizationEdit, { maxLength: 2 }),
        headers: fc.array(edits, { maxLength: 2 }),
        framing: fc.oneof(fc.constant(none.framing), framing),
        method: fc.constantFrom("POST", ...METHODS),
        target: fc.constantFrom("/", ...TARGETS),
      }),
    },
  );
  return fc.tuple(awsCall(fixtures), mutations).map(([call, mutation]) => ({ call, ...mutation }));
}

const SIGNER_HEADERS: ReadonlySet<string> = new Set(["authorization", "x-amz-date", "x-amz-content-sha256"]);

/** Builds the bytes of a case at `now`: the signature is always fresh, whatever else is stale. */
export class AwsRequestBuilder {
  private readonly signers = new Map<string, SignatureV4>();
  private readonly host: string;

  constructor(
    private readonly target: AwsTarget,
    private readonly context: MutationContext,
  ) {
    this.host = new URL(target.url).host;
  }

  /** Swaps in the restarted server's address. */
  withTarget(target: AwsTarget): AwsRequestBuilder {
    return new AwsRequestBuilder(target, this.context);
  }

  private signer(
    accessKeyId: string,
    secret: string,
    region: string,
    service: string,
    applyChecksum: boolean,
  ): SignatureV4 {
    const cacheKey = JSON.stringify([accessKeyId, secret, region, service, applyChecksum]);
    let signer = this.signers.get(cacheKey);
    if (signer === undefined) {
      signer = new SignatureV4({
        credentials: { accessKeyId, secretAccessKey: secret },
        region,
        service,
        sha256: Hash.bind(null, "sha256"),
        applyChecksum,
      });
      if (this.signers.size > 64) this.signers.clear();
      this.signers.set(cacheKey, signer);
    }
    return signer;
  }

  async build(testCase: AwsCase, now: number): Promise<WireRequest> {
    const validBody = Buffer.from(JSON.stringify(testCase.call.input));
    const tree = mutateJson(toTree(testCase.call.input), testCase.json, AWS_BLOB_FIELDS, this.context);
    let body: Buffer = Buffer.from(serializeTree(tree), "utf8");
    for (const mutation of testCase.body) body = mutateBody(body, mutation, this.context);
    let headers: [string, string][] = [
      ["host", this.host],
      ["content-type", "application/x-amz-json-1.1"],
      ["x-amz-target", `TrentService.${testCase.call.operation}`],
      ["user-agent", "trent-fuzz"],
    ];
    headers = applyHeaderEdits(headers, testCase.signedHeaders);
    const signing = testCase.signing;
    if (signing.mode !== "unsigned") {
      headers = await this.sign(testCase, headers, signing.mode === "staleBody" ? validBody : body, now);
    }
    headers = headers.map(([name, value]) =>
      name === "authorization"
        ? [name, testCase.authorization.reduce((header, edit) => editAuthorization(header, edit), value)]
        : [name, value],
    );
    headers = applyHeaderEdits(headers, testCase.headers);
    const framed = frame(headers, body, testCase.framing);
    return { method: testCase.method, target: testCase.target, ...framed };
  }

  private async sign(testCase: AwsCase, headers: [string, string][], body: Buffer, now: number) {
    const { signing } = testCase;
    const credentials = this.target.credentials;
    const accessKeyId = signing.mode === "unknownAccessKey" ? "AKIAFUZZUNKNOWN00000" : credentials.accessKeyId;
    const secret = signing.mode === "wrongSecret" ? `${credentials.secretAccessKey}x` : credentials.secretAccessKey;
    const region = signing.region ?? this.target.region;
    // smithy's HttpRequest keeps one value per header: a repeated one is signed as its last value.
    const record: Record<string, string> = {};
    for (const [name, value] of headers) record[name] = value;
    const url = URL.canParse(testCase.target, "http://trent.invalid")
      ? new URL(testCase.target, "http://trent.invalid")
      : new URL("http://trent.invalid/");
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of url.searchParams) {
      const existing = query[name];
      query[name] = existing === undefined ? value : [...[existing].flat(), value];
    }
    const signer = this.signer(accessKeyId, secret, region, signing.service, signing.checksumHeader);
    const signed = await signer.sign(
      new HttpRequest({
        method: testCase.method,
        protocol: "http:",
        hostname: url.hostname,
        path: url.pathname,
        query,
        headers: record,
        body,
      }),
      { signingDate: new Date(now + signing.skewSeconds * 1000) },
    );
    const setBySigner = (name: string) => SIGNER_HEADERS.has(name) && signed.headers[name] !== undefined;
    const kept = headers.map(([name, value]): [string, string] => [
      name,
      setBySigner(name) ? (signed.headers[name] as string) : value,
    ]);
    return [...kept, ...Object.entries(signed.headers).filter(([name]) => !(name in record))];
  }
}

// ---------------------------------------------------------------------------------------------
// What every answer must look like

/** Null when the answer is one the AWS edge may give; otherwise what is wrong with it. */
export function checkAwsResponse(request: WireRequest, response: WireResponse): string | null {
  if (response.status >= 500) return `HTTP ${response.status}`;
  if (request.method === "HEAD") return null;
  const text = response.body.toString("utf8");
  if (response.status === 200) {
    // The listener's own GET endpoints answer in their own formats.
    if (request.method === "GET" && ["/health", "/ready", "/metrics"].includes(request.target)) return null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        return "a 200 body that is not a JSON object";
    } catch {
      return "a 200 body that is not JSON";
    }
    return null;
  }
  return checkKmsError(text);
}

/** `{"__type": "...", "message": "..."}` and nothing else. */
export function checkKmsError(text: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "an error body that is not JSON";
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    return "an error body that is not a JSON object";
  const fields = parsed as Record<string, unknown>;
  const keys = Object.keys(fields).sort().join(",");
  if (keys !== "__type,message") return `an error body with fields ${keys}`;
  if (typeof fields.__type !== "string" || !/^[A-Za-z.]+$/.test(fields.__type)) return "an error body without a __type";
  if (typeof fields.message !== "string") return "an error body without a message";
  return null;
}

/** The error code of an AWS answer, for the totals. */
export function awsErrorCode(response: WireResponse): string | null {
  if (response.status === 200) return null;
  try {
    const code = (JSON.parse(response.body.toString("utf8")) as { __type?: unknown }).__type;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}
