import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { shake256 } from "@noble/hashes/sha3.js";
import { createMLDSA44, createMLDSA65, createMLDSA87 } from "@oqs/liboqs-js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * ML-DSA signatures from the real server, checked with liboqs (Open Quantum Safe's FIPS 204
 * implementation, as WebAssembly): an implementation independent of the one Trent signs with.
 */
let trent: TrentProcess;
let kms: KMSClient;

before(async () => {
  trent = await startTrentProcess();
  kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: trent.credentials, maxAttempts: 1 });
});

after(async () => {
  kms?.destroy();
  await trent?.stop();
});

const LEVELS = [
  { spec: "ML_DSA_44", create: createMLDSA44, publicKeyBytes: 1312 },
  { spec: "ML_DSA_65", create: createMLDSA65, publicKeyBytes: 1952 },
  { spec: "ML_DSA_87", create: createMLDSA87, publicKeyBytes: 2592 },
] as const;

for (const level of LEVELS) {
  test(`${level.spec}: RAW and EXTERNAL_MU signatures verify with liboqs; a flipped bit does not`, async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: level.spec, KeyUsage: "SIGN_VERIFY" }));
    const keyId = KeyMetadata?.KeyId as string;
    const spki = Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey as Uint8Array);
    const publicKey = spki.subarray(spki.length - level.publicKeyBytes);
    const message = randomBytes(200);
    // FIPS 204: mu = SHAKE256(SHAKE256(pk, 64) || 0 || len(ctx)=0 || M, 64) for the empty context.
    const mu = shake256(Buffer.concat([shake256(publicKey, { dkLen: 64 }), Buffer.of(0, 0), message]), { dkLen: 64 });
    const verifier = await level.create();
    try {
      for (const [messageType, signed] of [
        ["RAW", message],
        ["EXTERNAL_MU", mu],
      ] as const) {
        const { Signature } = await kms.send(
          new SignCommand({
            KeyId: keyId,
            Message: signed,
            MessageType: messageType,
            SigningAlgorithm: "ML_DSA_SHAKE_256",
          }),
        );
        const signature = Buffer.from(Signature as Uint8Array);
        // liboqs takes plain Uint8Arrays, not Buffers.
        const check = (m: Uint8Array, s: Uint8Array) =>
          verifier.verify(new Uint8Array(m), new Uint8Array(s), new Uint8Array(publicKey));
        assert.equal(check(message, signature), true, `${messageType} signature`);
        const flipped = Buffer.from(signature);
        flipped[100] = (flipped[100] as number) ^ 1;
        assert.equal(check(message, flipped), false, `${messageType} flipped signature`);
        assert.equal(check(randomBytes(200), signature), false, `${messageType} other message`);
      }
    } finally {
      verifier.destroy();
    }
  });
}
