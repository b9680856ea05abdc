import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import {
  IncompleteSignatureException,
  InvalidSignatureException,
  type KmsError,
  MissingAuthenticationTokenException,
  UnrecognizedClientException,
} from "../../src/domain/errors.js";
import { type IncomingSignedRequest, MAX_CLOCK_SKEW_MS, verifySigV4 } from "../../src/protocol/aws/sigv4.js";

const ACCESS_KEY_ID = "AKIATRENTTESTKEY0001";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION = "eu-west-1";
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MINUTE = 60_000;
const BODY = JSON.stringify({ KeyId: "alias/test", Plaintext: "aGVsbG8=" });

const lookup = async (accessKeyId: string) => (accessKeyId === ACCESS_KEY_ID ? SECRET : undefined);

interface SignOptions {
  secret?: string;
  accessKeyId?: string;
  sessionToken?: string;
  service?: string;
  region?: string;
  signingDate?: Date;
  applyChecksum?: boolean;
  body?: string;
  query?: Record<string, string>;
  path?: string;
}

/** Signs a KMS Encrypt request the way an AWS SDK does, and returns it as the edge sees it. */
async function signed(options: SignOptions = {}): Promise<IncomingSignedRequest> {
  const body = options.body ?? BODY;
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: options.accessKeyId ?? ACCESS_KEY_ID,
      secretAccessKey: options.secret ?? SECRET,
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    },
    region: options.region ?? REGION,
    service: options.service ?? "kms",
    sha256: Hash.bind(null, "sha256"),
    applyChecksum: options.applyChecksum ?? true,
  });
  const request = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: "http:",
      hostname: "localhost",
      port: 8443,
      path: options.path ?? "/",
      query: options.query ?? {},
      headers: {
        host: "localhost:8443",
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "TrentService.Encrypt",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "aws-sdk-js/3 unit-test",
      },
      body,
    }),
    { signingDate: options.signingDate ?? new Date(NOW) },
  );
  const headers = new Map<string, string[]>();
  for (const [name, value] of Object.entries(request.headers)) headers.set(name.toLowerCase(), [value]);
  return {
    method: request.method,
    path: request.path,
    query: request.query as Record<string, string>,
    headers,
    body: Buffer.from(body),
  };
}

function withHeader(request: IncomingSignedRequest, name: string, values: string[] | undefined): IncomingSignedRequest {
  const headers = new Map(request.headers);
  if (values === undefined) headers.delete(name);
  else headers.set(name, values);
  return { ...request, headers };
}

function authorization(request: IncomingSignedRequest): string {
  return request.headers.get("authorization")?.[0] as string;
}

async function assertRejected(
  request: IncomingSignedRequest,
  errorClass: abstract new (...args: never[]) => KmsError,
  message?: string | RegExp,
  now = NOW,
): Promise<void> {
  await assert.rejects(verifySigV4(request, lookup, now), (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    assert.equal((error as KmsError).status, 400);
    if (typeof message === "string") assert.equal((error as Error).message, message);
    else if (message) assert.match((error as Error).message, message);
    return true;
  });
}

const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";

describe("verifySigV4 accepts what an SDK signs", () => {
  test("a request signed with @smithy/signature-v4 is accepted, naming the caller and the signed region", async () => {
    assert.deepEqual(await verifySigV4(await signed(), lookup, NOW), { accessKeyId: ACCESS_KEY_ID, region: REGION });
  });

  test("without the x-amz-content-sha256 header (applyChecksum: false)", async () => {
    const request = await signed({ applyChecksum: false });
    assert.equal(request.headers.has("x-amz-content-sha256"), false);
    assert.deepEqual(await verifySigV4(request, lookup, NOW), { accessKeyId: ACCESS_KEY_ID, region: REGION });
  });

  test("any region in the credential scope (Trent serves them all)", async () => {
    const caller = await verifySigV4(await signed({ region: "ap-southeast-2" }), lookup, NOW);
    assert.equal(caller.region, "ap-southeast-2");
  });

  test("a request with a query string and an empty body", async () => {
    const request = await signed({ query: { a: "1", b: "two words" }, body: "" });
    assert.deepEqual(await verifySigV4(request, lookup, NOW), { accessKeyId: ACCESS_KEY_ID, region: REGION });
  });

  test("a signing time within 4 minutes either side of the server's clock", async () => {
    for (const offset of [-4 * MINUTE, 4 * MINUTE, -MAX_CLOCK_SKEW_MS + 1000]) {
      const request = await signed({ signingDate: new Date(NOW + offset) });
      assert.equal((await verifySigV4(request, lookup, NOW)).accessKeyId, ACCESS_KEY_ID, `offset ${offset}`);
    }
  });
});

describe("verifySigV4 rejects tampering with InvalidSignatureException", () => {
  test("a changed body (signed without x-amz-content-sha256)", async () => {
    const request = await signed({ applyChecksum: false });
    await assertRejected(
      { ...request, body: Buffer.from(BODY.replace("alias/test", "alias/evil")) },
      InvalidSignatureException,
      MISMATCH,
    );
  });

  test("a changed body (signed with x-amz-content-sha256, as @smithy/signature-v4 does by default)", async () => {
    const request = await signed();
    assert.ok(request.headers.has("x-amz-content-sha256"));
    await assertRejected(
      { ...request, body: Buffer.from(BODY.replace("alias/test", "alias/evil")) },
      InvalidSignatureException,
      MISMATCH,
    );
  });

  test("a changed signed header", async () => {
    const request = await signed();
    await assertRejected(
      withHeader(request, "x-amz-target", ["TrentService.Decrypt"]),
      InvalidSignatureException,
      MISMATCH,
    );
    await assertRejected(withHeader(request, "host", ["evil.example:8443"]), InvalidSignatureException, MISMATCH);
  });

  test("a signed header removed", async () => {
    const request = await signed();
    await assertRejected(withHeader(request, "x-amz-target", undefined), InvalidSignatureException, MISMATCH);
  });

  test("a changed path or query", async () => {
    const request = await signed();
    await assertRejected({ ...request, path: "/other" }, InvalidSignatureException, MISMATCH);
    await assertRejected({ ...request, query: { extra: "1" } }, InvalidSignatureException, MISMATCH);
  });

  test("a changed method", async () => {
    await assertRejected({ ...(await signed()), method: "PUT" }, InvalidSignatureException, MISMATCH);
  });

  test("a wrong secret", async () => {
    await assertRejected(await signed({ secret: `${SECRET}x` }), InvalidSignatureException, MISMATCH);
  });

  test("a changed signature, or one in upper case", async () => {
    const request = await signed();
    const auth = authorization(request);
    const signature = /Signature=([0-9a-f]{64})/.exec(auth)?.[1] as string;
    const other = `${signature.slice(0, 63)}${signature.endsWith("0") ? "1" : "0"}`;
    await assertRejected(
      withHeader(request, "authorization", [auth.replace(signature, other)]),
      InvalidSignatureException,
      MISMATCH,
    );
    await assertRejected(
      withHeader(request, "authorization", [auth.replace(signature, signature.toUpperCase())]),
      InvalidSignatureException,
    );
  });

  test("a signature scoped to another service", async () => {
    await assertRejected(await signed({ service: "dynamodb" }), InvalidSignatureException, /kms/);
  });

  test("a credential date that differs from X-Amz-Date", async () => {
    const request = await signed();
    const auth = authorization(request).replace(/Credential=([^/]+)\/\d{8}\//, "Credential=$1/20250114/");
    await assertRejected(withHeader(request, "authorization", [auth]), InvalidSignatureException);
  });

  test("X-Amz-Date left out of the signed headers", async () => {
    const request = await signed();
    const auth = authorization(request).replace(/SignedHeaders=[^,]+/, "SignedHeaders=content-type;host;x-amz-target");
    await assertRejected(withHeader(request, "authorization", [auth]), InvalidSignatureException);
  });
});

describe("verifySigV4 enforces the 5-minute clock skew", () => {
  test("a request signed more than 5 minutes ago is expired, in AWS's words", async () => {
    const request = await signed({ signingDate: new Date(NOW - 6 * MINUTE) });
    await assertRejected(
      request,
      InvalidSignatureException,
      "Signature expired: 20250115T115400Z is now earlier than 20250115T115500Z (20250115T120000Z - 5 min.)",
    );
  });

  test("a request signed more than 5 minutes ahead is not yet current, in AWS's words", async () => {
    const request = await signed({ signingDate: new Date(NOW + 6 * MINUTE) });
    await assertRejected(
      request,
      InvalidSignatureException,
      "Signature not yet current: 20250115T120600Z is still later than 20250115T120500Z (20250115T120000Z + 5 min.)",
    );
  });

  test("a day-old request is expired", async () => {
    await assertRejected(
      await signed({ signingDate: new Date(NOW - 24 * 60 * MINUTE) }),
      InvalidSignatureException,
      /^Signature expired/,
    );
  });
});

describe("verifySigV4 authentication errors", () => {
  test("no Authorization header: MissingAuthenticationTokenException", async () => {
    await assertRejected(withHeader(await signed(), "authorization", undefined), MissingAuthenticationTokenException);
  });

  test("an unknown access key: UnrecognizedClientException", async () => {
    await assertRejected(
      await signed({ accessKeyId: "AKIAUNKNOWNKEY000000" }),
      UnrecognizedClientException,
      INVALID_TOKEN,
    );
  });

  test("a session token (no temporary credentials exist): UnrecognizedClientException", async () => {
    const request = await signed({ sessionToken: "FwoGZXIvYXdzEXAMPLETOKEN" });
    assert.ok(request.headers.has("x-amz-security-token"));
    await assertRejected(request, UnrecognizedClientException, INVALID_TOKEN);
  });
});

describe("verifySigV4 rejects a malformed Authorization header with IncompleteSignatureException", () => {
  const cases: Array<[string, (auth: string) => string]> = [
    ["another scheme", () => "Bearer abc"],
    ["SigV2", () => "AWS AKIAEXAMPLE:signature"],
    ["another SigV4 algorithm", (auth) => auth.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")],
    ["only the algorithm", () => "AWS4-HMAC-SHA256"],
    ["no Credential", (auth) => auth.replace(/Credential=[^,]+, /, "")],
    ["no SignedHeaders", (auth) => auth.replace(/SignedHeaders=[^,]+, /, "")],
    ["no Signature", (auth) => auth.replace(/, Signature=[0-9a-f]+/, "")],
    ["a credential of 4 elements", (auth) => auth.replace("/aws4_request", "")],
    ["a credential not ending in aws4_request", (auth) => auth.replace("/aws4_request", "/aws5_request")],
    ["an empty credential element", (auth) => auth.replace(`/${REGION}/`, "//")],
  ];
  for (const [name, mangle] of cases) {
    test(name, async () => {
      const request = await signed();
      await assertRejected(
        withHeader(request, "authorization", [mangle(authorization(request))]),
        IncompleteSignatureException,
      );
    });
  }

  test("a missing or malformed X-Amz-Date", async () => {
    const request = await signed();
    await assertRejected(withHeader(request, "x-amz-date", undefined), IncompleteSignatureException);
    await assertRejected(withHeader(request, "x-amz-date", ["2025-01-15T12:00:00Z"]), IncompleteSignatureException);
  });

  test("two Authorization headers", async () => {
    const request = await signed();
    await assertRejected(
      withHeader(request, "authorization", [authorization(request), authorization(request)]),
      IncompleteSignatureException,
    );
  });
});
