import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type KeyObject, type X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  AttestationError,
  AttestationVerifier,
  type AttestationVerifierOptions,
  AWS_NITRO_ROOT_G1_PEM,
  loadTrustRoots,
} from "../../src/attestation/nitro-attestation.js";
import {
  createTestAttestationCa,
  type MintOptions,
  mintAttestationDocument,
  type TestAttestationCa,
} from "../support/attestation-documents.js";
import { nitroFixturesDir } from "../support/nitro-fixtures.js";

const ROOT_G1_FINGERPRINT =
  "64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B";
const AWS_DOCUMENT = Buffer.from(
  readFileSync(join(nitroFixturesDir(), "aws_nsm_attestation_2025-07-18.hex"), "utf8").trim(),
  "hex",
);
const AWS_DOCUMENT_TIME = new Date("2025-07-18T08:37:38.990Z");
const FIVE_MINUTES = 5 * 60 * 1000;

function verifierFor(roots: readonly X509Certificate[], overrides: Partial<AttestationVerifierOptions> = {}) {
  return new AttestationVerifier({ roots, maxAgeMs: FIVE_MINUTES, now: () => new Date(), ...overrides });
}

function rejects(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof AttestationError, `expected AttestationError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe("trust roots", () => {
  test("the embedded Root-G1 is AWS's certificate, identical to the fixture", () => {
    const [embedded] = loadTrustRoots(AWS_NITRO_ROOT_G1_PEM);
    const [fixture] = loadTrustRoots(readFileSync(join(nitroFixturesDir(), "aws_nitro_root_g1.pem"), "utf8"));
    assert.ok(embedded && fixture);
    assert.equal(embedded.fingerprint256, ROOT_G1_FINGERPRINT);
    assert.equal(fixture.fingerprint256, ROOT_G1_FINGERPRINT);
    assert.ok(embedded.raw.equals(fixture.raw));
    assert.equal(embedded.subject.includes("CN=aws.nitro-enclaves"), true);
  });

  test("a PEM file may hold several roots; one without a certificate is refused", async () => {
    const ca = await createTestAttestationCa();
    assert.equal(loadTrustRoots(`${AWS_NITRO_ROOT_G1_PEM}\n${ca.rootPem}`).length, 2);
    rejects(() => loadTrustRoots("no certificates here"), /holds no PEM certificate/);
    rejects(
      () => loadTrustRoots("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
      /certificate 1 of the trust-root file is not a valid X\.509 certificate/,
    );
  });
});

describe("the real AWS attestation document", () => {
  const atItsTime = (roots: readonly X509Certificate[]) =>
    verifierFor(roots, { now: () => AWS_DOCUMENT_TIME, requireRsaKey: false });

  test("verifies against the embedded Root-G1 at its own timestamp", () => {
    const attested = atItsTime(loadTrustRoots(AWS_NITRO_ROOT_G1_PEM)).verifyDocument(AWS_DOCUMENT);
    assert.equal(attested.moduleId, "i-0a9f2a8b8dd31c7c8-enc019802a541b75725");
    assert.equal(attested.digest, "SHA384");
    assert.equal(attested.timestamp.toISOString(), "2025-07-18T08:37:38.990Z");
    assert.deepEqual([...attested.pcrs.keys()], [...Array(16).keys()]);
    assert.equal(
      attested.pcrs.get(0)?.toString("hex"),
      "19d44c076cdbc0d6a0a7d0d6c661e7888a710fb324c56b54d678a0ae0fc9bf41be4b45c07f4010a21f34f518bd1407d1",
    );
    assert.equal(attested.pcrs.get(3)?.equals(Buffer.alloc(48)), true);
    assert.equal(attested.publicKeyBytes?.length, 32);
    assert.equal(attested.userData, null);
    assert.equal(attested.nonce, null);
  });

  test("verifies against the fixture PEM too, and its 32-byte raw public key is no SPKI for verify()", () => {
    const verifier = atItsTime(loadTrustRoots(readFileSync(join(nitroFixturesDir(), "aws_nitro_root_g1.pem"), "utf8")));
    assert.equal(verifier.verifyDocument(AWS_DOCUMENT).pcrs.size, 16);
    rejects(() => verifier.verify(AWS_DOCUMENT), /public key is not a DER SubjectPublicKeyInfo/);
  });

  test("fails against a different root", async () => {
    const ca = await createTestAttestationCa();
    rejects(
      () => atItsTime(loadTrustRoots(ca.rootPem)).verifyDocument(AWS_DOCUMENT),
      /certificate chain does not lead to a trusted root/,
    );
  });

  test("fails when it is older than the maximum age", () => {
    const verifier = verifierFor(loadTrustRoots(AWS_NITRO_ROOT_G1_PEM), {
      now: () => new Date(AWS_DOCUMENT_TIME.getTime() + FIVE_MINUTES + 1),
    });
    rejects(() => verifier.verifyDocument(AWS_DOCUMENT), /timestamp 2025-07-18T08:37:38\.990Z is older than/);
  });

  test("fails with any single flipped byte", () => {
    const verifier = atItsTime(loadTrustRoots(AWS_NITRO_ROOT_G1_PEM));
    const positions = [0, 1, 5, 100, 2000, AWS_DOCUMENT.length - 50, AWS_DOCUMENT.length - 1];
    for (let i = 3; i < AWS_DOCUMENT.length; i += 41) positions.push(i);
    for (const position of positions) {
      const flipped = Buffer.from(AWS_DOCUMENT);
      flipped[position] = (flipped[position] as number) ^ 0x01;
      assert.throws(
        () => verifier.verifyDocument(flipped),
        AttestationError,
        `a flip at byte ${position} was not detected`,
      );
    }
    rejects(() => {
      const flipped = Buffer.from(AWS_DOCUMENT);
      flipped[AWS_DOCUMENT.length - 1] = (flipped[AWS_DOCUMENT.length - 1] as number) ^ 0x80;
      verifier.verifyDocument(flipped);
    }, /COSE signature does not verify/);
  });
});

describe("minted attestation documents", () => {
  let ca: TestAttestationCa;
  let rsaKey: KeyObject;
  let verifier: AttestationVerifier;
  const mint = (options: MintOptions = {}) => mintAttestationDocument({ ca, rsaKey, ...options });

  before(async () => {
    ca = await createTestAttestationCa();
    rsaKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    verifier = verifierFor(loadTrustRoots(ca.rootPem));
  });

  test("a valid document verifies and yields the enclave's RSA key, PCRs and fields", async () => {
    const pcrs = new Map([
      [0, Buffer.alloc(48, 0xa0)],
      [1, Buffer.alloc(48, 0xa1)],
      [2, Buffer.alloc(48, 0xa2)],
      [8, Buffer.alloc(48, 0xa8)],
    ]);
    const minted = await mint({ pcrs, userData: Buffer.from("hello"), nonce: Buffer.from("n0nce") });
    const attested = verifier.verify(minted.document);
    assert.ok(
      attested.publicKey
        .export({ format: "der", type: "spki" })
        .equals(createPublicKey(rsaKey).export({ format: "der", type: "spki" })),
    );
    assert.deepEqual(attested.pcrs, pcrs);
    assert.equal(attested.moduleId, "i-0123456789abcdef0-enc0123456789abcdef");
    assert.equal(attested.timestamp.getTime(), minted.timestamp.getTime());
    assert.equal(attested.userData?.toString(), "hello");
    assert.equal(attested.nonce?.toString(), "n0nce");
  });

  test("tagged (18), definite-length and root-less cabundles verify as well", async () => {
    for (const options of [{ tagged: true }, { definiteLength: true }, { omitRootFromBundle: true }]) {
      const minted = await mint(options);
      assert.equal(verifier.verify(minted.document).pcrs.size, 16, JSON.stringify(options));
    }
  });

  test("a fresh CA per document is trusted through its returned root PEM", async () => {
    const minted = await mintAttestationDocument({ rsaKey });
    assert.equal(verifierFor(loadTrustRoots(minted.rootPem)).verify(minted.document).pcrs.size, 16);
  });

  test("a document under an untrusted root is refused", async () => {
    const minted = await mint({ untrustedRoot: true });
    rejects(() => verifier.verify(minted.document), /certificate chain does not lead to a trusted root/);
    const rootless = await mint({ untrustedRoot: true, omitRootFromBundle: true });
    rejects(() => verifier.verify(rootless.document), /does not lead to a trusted root/);
  });

  test("a broken signature is refused", async () => {
    const minted = await mint({ brokenSignature: true });
    rejects(() => verifier.verify(minted.document), /COSE signature does not verify/);
  });

  test("expired certificates are refused at the document's time", async () => {
    for (const [which, message] of [
      ["leaf", /signing certificate is not valid at the document's time/],
      ["intermediate", /cabundle\[1\] is not valid at the document's time/],
      ["root", /cabundle\[0\] is not valid at the document's time/],
    ] as const) {
      const minted = await mint({ expired: which });
      rejects(() => verifierFor(loadTrustRoots(minted.rootPem)).verify(minted.document), message);
    }
  });

  test("stale and far-future timestamps are refused; small clock skew is not", async () => {
    const stale = await mint({ timestamp: new Date(Date.now() - FIVE_MINUTES - 60_000) });
    rejects(() => verifier.verify(stale.document), /is older than the accepted 300000 ms/);
    const future = await mint({ timestamp: new Date(Date.now() + FIVE_MINUTES + 60_000) });
    rejects(() => verifier.verify(future.document), /lies more than 5 minutes in the future/);
    const skewed = await mint({ timestamp: new Date(Date.now() + 60_000) });
    assert.equal(verifier.verify(skewed.document).pcrs.size, 16);
  });

  test("a missing public key is refused", async () => {
    const nullKey = await mint({ publicKey: null });
    rejects(() => verifier.verify(nullKey.document), /has no public key/);
    const omitted = await mint({ omitFields: ["public_key", "user_data", "nonce"] });
    rejects(() => verifier.verify(omitted.document), /has no public key/);
  });

  test("non-RSA and wrongly sized RSA keys are refused", async () => {
    const ec = await mint({ publicKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey });
    rejects(() => verifier.verify(ec.document), /public key is not an RSA key \(it is ec\)/);
    const rsa1024 = await mint({ publicKey: generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey });
    rejects(() => verifier.verify(rsa1024.document), /RSA public key has 1024 bits; accepted are 2048 to 4096/);
    const strict = verifierFor(loadTrustRoots(ca.rootPem), { minRsaBits: 3072 });
    const valid = await mint();
    rejects(() => strict.verify(valid.document), /has 2048 bits; accepted are 3072 to 4096/);
    const raw = await mint({ publicKey: Buffer.alloc(32, 7) });
    rejects(() => verifier.verify(raw.document), /not a DER SubjectPublicKeyInfo/);
    // With requireRsaKey false any SPKI key type is returned.
    const lenient = verifierFor(loadTrustRoots(ca.rootPem), { requireRsaKey: false });
    assert.equal(lenient.verify(ec.document).publicKey.asymmetricKeyType, "ec");
  });

  test("garbage of any shape is refused without crashing or hanging", async () => {
    const cases = [
      // Random bytes fail wherever they happen to stop looking like a document.
      ["random-bytes", /^the attestation document/],
      ["truncated", /not well-formed CBOR/],
      ["not-cose", /not a COSE_Sign1 structure/],
      ["deep-nesting", /not well-formed CBOR \(Maximum depth/],
      ["huge-length", /not well-formed CBOR/],
    ] as const;
    for (const [kind, message] of cases) {
      const minted = await mint({ garbage: kind });
      rejects(() => verifier.verify(minted.document), message);
    }
    rejects(() => verifier.verify(new Uint8Array(0)), /document is empty/);
    rejects(() => verifier.verify(Buffer.alloc(16 * 1024 + 1, 0x80)), /larger than 16384 bytes/);
    for (const bytes of [[0xf6], [0x80], [0x84, 0x40, 0xa0, 0x40, 0x40], [0xd8, 0x62, 0x80], [0x5f, 0x41]]) {
      assert.throws(() => verifier.verify(Buffer.from(bytes)), AttestationError, Buffer.from(bytes).toString("hex"));
    }
    rejects(() => verifier.verify(Buffer.from([0xd8, 0x62, 0x80])), /carries CBOR tag 98, not COSE_Sign1/);
  });

  test("a wrong COSE algorithm header is refused", async () => {
    const es256 = await mint({ alg: -7 });
    rejects(() => verifier.verify(es256.document), /protected header is not \{1: -35\}/);
  });

  test("payload fields are checked strictly", async () => {
    const cases: [MintOptions, RegExp][] = [
      [{ omitFields: ["module_id"] }, /payload has no module_id/],
      [{ omitFields: ["cabundle"] }, /payload has no cabundle/],
      [{ payloadOverrides: { digest: "SHA256" } }, /digest is not "SHA384"/],
      [{ payloadOverrides: { module_id: "" } }, /module_id is not a non-empty text string/],
      [{ payloadOverrides: { timestamp: "2025-07-18" } }, /timestamp is not a positive integer/],
      [{ payloadOverrides: { pcrs: new Map([[0, Buffer.alloc(20)]]) } }, /PCR0 is not a byte string of 32, 48 or 64/],
      [{ payloadOverrides: { pcrs: new Map([[32, Buffer.alloc(48)]]) } }, /pcrs is not keyed by PCR indexes 0 to 31/],
      [{ payloadOverrides: { pcrs: new Map() } }, /pcrs is not a map of 1 to 32 PCRs/],
      [{ payloadOverrides: { cabundle: [] } }, /cabundle is not a non-empty array/],
      [{ payloadOverrides: { cabundle: ["text"] } }, /cabundle\[0\] is not a byte string/],
      [{ payloadOverrides: { certificate: Buffer.from("not DER") } }, /signing certificate is not a valid X\.509/],
      [{ payloadOverrides: { user_data: Buffer.alloc(513) } }, /user_data is not null or a byte string of 0 to 512/],
      [{ payloadOverrides: { nonce: 42 } }, /nonce is not null or a byte string/],
      [{ payloadOverrides: { extra: 1 } }, /payload has an unknown field "extra"/],
    ];
    for (const [options, message] of cases) {
      const minted = await mint(options);
      rejects(() => verifier.verify(minted.document), message);
    }
  });
});
