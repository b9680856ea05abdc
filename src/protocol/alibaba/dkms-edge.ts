import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import protobuf from "protobufjs";
import type { ClientKeyIdentity } from "../../auth/client-keys.js";
import { KMSInternalException, KmsError } from "../../domain/errors.js";
import type { Caller } from "../../domain/principal.js";
import { ALIBABA_OPERATIONS, type AlibabaOperation } from "../../ops/alibaba/index.js";
import type { OperationContext, Services } from "../../ops/context.js";
import { StoreUnavailableError } from "../../store/store-errors.js";
import type { EdgeRequest } from "../aws/aws-json-edge.js";
import { wipeBytes } from "../aws/shapes.js";
import apiProto from "./api-proto.json" with { type: "json" };
import { alibabaAuditView } from "./audit-parameters.js";
import { contentSha256, SIGNATURE_METHOD, stringToSign, verifyAuthorization } from "./signature.js";

/** The API version every dkms-gcs SDK sends in `x-kms-apiversion`. */
export const API_VERSION = "dkms-gcs-0.2";
/** The instance API refuses bodies above 3 MB with HTTP 413. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** The SDKs' documented tolerance between the request's date and the server's clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const CONTENT_TYPE = "application/x-protobuf";
const RFC_1123 =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export interface DkmsEdgeOptions {
  /** Requests in flight above this are answered 429 Rejected.Throttling at once, never queued. */
  readonly maxConcurrentRequests: number;
  /** The region Alibaba callers act in (keys are regional); the admin credentials' region. */
  readonly region?: string;
}

export interface DkmsResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The error code in the body, when it is an error. */
  readonly errorCode?: string;
}

/** An error answered as the instance API's protobuf `Error` message. */
/** The headers besides `x-kms-*` that the string to sign and the checks read. */
const SIGNED_PLAIN_HEADERS: ReadonlySet<string> = new Set(["content-sha256", "content-type", "date", "authorization"]);

export class DkmsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

const tooLargeError = (limitBytes: number) =>
  new DkmsError(413, "RequestEntityTooLarge", `The request body is larger than ${limitBytes} bytes.`);
const invalidParam = (param: string) => new DkmsError(400, "InvalidParam", `The Param ${param} is invalid.`);
// The SDK's own message: the Java SDK retries a request refused with it.
const invalidContentSha256 = () => invalidParam("Content-SHA256");
// Alibaba's transfer SDKs read "InvalidParam / The Param Authorization is invalid." as a bad signature.
const invalidAuthorization = () => invalidParam("Authorization");

const root = protobuf.Root.fromJSON(apiProto as protobuf.INamespace);
const ERROR_TYPE = root.lookupType("api.Error");

interface Messages {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

/** Every API the descriptor defines: `<ApiName>Request` with a matching `<ApiName>Response`. */
const API_MESSAGES: ReadonlyMap<string, Messages> = new Map(
  Object.keys((apiProto.nested.api as { nested: Record<string, unknown> }).nested)
    .filter((name) => name.endsWith("Request"))
    .map((name) => name.slice(0, -"Request".length))
    .filter((api) => root.lookup(`api.${api}Response`) instanceof protobuf.Type)
    .map((api) => [
      api,
      { request: root.lookupType(`api.${api}Request`), response: root.lookupType(`api.${api}Response`) },
    ]),
);

const DECODE_OPTIONS: protobuf.IConversionOptions = { defaults: true, longs: Number, arrays: true };

/**
 * The Alibaba Cloud KMS instance API edge (dkms-gcs-0.2): checks the SDK's headers, RSA
 * signature, date and body hash, decodes the `<ApiName>Request` protobuf, runs the operation as
 * the client key's principal and answers with `<ApiName>Response`, or with the protobuf `Error`
 * the SDKs parse on any 4xx/5xx. Every request passes the audit hook, including one refused by
 * the concurrency limit (recorded without checking its signature).
 */
export class DkmsEdge {
  private inFlight = 0;
  private readonly region: string;

  constructor(
    private readonly services: Services,
    private readonly clientKeys: { lookup(keyId: string): Promise<ClientKeyIdentity | undefined> },
    private readonly logger: Logger,
    private readonly options: DkmsEdgeOptions,
    private readonly operations: Readonly<Record<string, AlibabaOperation>> = ALIBABA_OPERATIONS,
  ) {
    if (!Number.isInteger(options.maxConcurrentRequests) || options.maxConcurrentRequests < 1) {
      throw new RangeError("maxConcurrentRequests must be a positive integer");
    }
    this.region = options.region ?? "us-east-1";
  }

  async handle(request: EdgeRequest): Promise<DkmsResponse> {
    const requestId = randomUUID();
    const started = performance.now();
    let response: DkmsResponse;
    if (this.inFlight >= this.options.maxConcurrentRequests) {
      const throttled = new DkmsError(429, "Rejected.Throttling", "QPS Limit Exceeded");
      response = dkmsErrorResponse(throttled, requestId);
      // Recorded unauthenticated: checking the signature is the work the limit saves.
      const apiName = request.headers.get("x-kms-apiname")?.[0] ?? null;
      const outcome = { resources: [], requestParameters: null, responseElements: null, error: throttled };
      try {
        await this.recordAnswer(request, requestId, apiName, null, outcome);
      } catch (auditFailure) {
        response = dkmsErrorResponse(this.toDkmsError(auditFailure, requestId, apiName), requestId);
      }
    } else {
      this.inFlight++;
      try {
        response = await this.serve(request, requestId);
      } finally {
        this.inFlight--;
      }
    }
    this.services.metrics.answered({
      edge: "alibaba",
      operation: request.headers.get("x-kms-apiname")?.[0] ?? null,
      errorCode: response.status === 200 ? null : (response.errorCode ?? null),
      status: response.status,
      seconds: (performance.now() - started) / 1000,
    });
    return response;
  }

  /** The answer to a body above the limit, which the listener refuses before reading it all. */
  tooLarge(limitBytes = MAX_BODY_BYTES): DkmsResponse {
    return dkmsErrorResponse(tooLargeError(limitBytes));
  }

  private async serve(request: EdgeRequest, requestId: string): Promise<DkmsResponse> {
    const resources: string[] = [];
    let apiName: string | null = null;
    let caller: Caller | null = null;
    let requestParameters: Record<string, unknown> | null = null;
    let responseElements: Record<string, unknown> | null = null;
    let body: Buffer;
    let error: DkmsError | null = null;
    const hash = (value: Uint8Array | string) => this.services.audit.correlationHash(value);
    try {
      if (request.body.length > MAX_BODY_BYTES) throw tooLargeError(MAX_BODY_BYTES);
      const headers = this.kmsHeaders(request);
      apiName = this.apiName(headers);
      const messages = API_MESSAGES.get(apiName) as Messages;
      caller = await this.authenticate(request, headers);
      const operation = Object.hasOwn(this.operations, apiName) ? this.operations[apiName] : undefined;
      if (operation === undefined) {
        throw new DkmsError(400, "Rejected.UnsupportedOperation", `Unsupported operation: ${apiName}.`);
      }
      this.services.quotas.admit(caller, apiName);
      const input = decodeRequest(messages.request, request.body);
      requestParameters = alibabaAuditView(input, hash);
      const context: OperationContext = { caller, services: this.services, resources, grantTokens: [] };
      try {
        const output = await operation(context, input);
        body = this.encodeResponse(messages.response, output, requestId);
        if (!apiName.startsWith("Get")) responseElements = alibabaAuditView(output, hash);
        wipeBytes(output);
      } finally {
        wipeBytes(input);
        request.body.fill(0);
      }
    } catch (thrown) {
      error = this.toDkmsError(thrown, requestId, apiName);
      body = encodeError(error, requestId);
    }
    try {
      await this.recordAnswer(request, requestId, apiName, caller, {
        resources,
        requestParameters,
        responseElements,
        error,
      });
    } catch (auditFailure) {
      // A request that cannot be recorded is not answered with its result.
      error = this.toDkmsError(auditFailure, requestId, apiName);
      body = encodeError(error, requestId);
    }
    return {
      status: error?.status ?? 200,
      headers: { "content-type": CONTENT_TYPE },
      body,
      ...(error === null ? {} : { errorCode: error.code }),
    };
  }

  private recordAnswer(
    request: EdgeRequest,
    requestId: string,
    apiName: string | null,
    caller: Caller | null,
    outcome: {
      resources: readonly string[];
      requestParameters: Record<string, unknown> | null;
      responseElements: Record<string, unknown> | null;
      error: DkmsError | null;
    },
  ): Promise<void> {
    return this.services.audit.record({
      edge: "alibaba",
      requestId,
      operation: apiName,
      caller,
      remoteAddress: request.remoteAddress,
      userAgent: request.headers.get("user-agent")?.[0] ?? null,
      resources: outcome.resources,
      requestParameters: outcome.requestParameters,
      responseElements: outcome.responseElements,
      error: outcome.error === null ? null : { code: outcome.error.code, message: outcome.error.message },
    });
  }

  /** The single-valued headers the signature and the checks read, by lower-case name. */
  private kmsHeaders(request: EdgeRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, values] of request.headers) {
      if (!name.startsWith("x-kms-") && !SIGNED_PLAIN_HEADERS.has(name)) {
        continue;
      }
      // A repeated signed header has no single canonical value to verify.
      if (values.length !== 1) throw invalidParam(name);
      headers[name] = values[0] as string;
    }
    return headers;
  }

  private apiName(headers: Record<string, string>): string {
    const version = headers["x-kms-apiversion"];
    if (version !== API_VERSION) {
      throw new DkmsError(400, "InvalidApiVersion", `The ApiVersion "${version ?? ""}" is invalid.`);
    }
    const name = headers["x-kms-apiname"] ?? "";
    if (!API_MESSAGES.has(name)) throw new DkmsError(400, "InvalidApiName", `The ApiName "${name}" is invalid.`);
    return name;
  }

  private async authenticate(request: EdgeRequest, headers: Record<string, string>): Promise<Caller> {
    const method = headers["x-kms-signaturemethod"];
    if (method === undefined) throw invalidParam("x-kms-signaturemethod");
    if (method !== SIGNATURE_METHOD) {
      throw new DkmsError(400, "InvalidParam", `The Param x-kms-signaturemethod is invalid. message:"${method}".`);
    }
    const keyId = headers["x-kms-acccesskeyid"];
    if (keyId === undefined || keyId.trim() === "") {
      throw new DkmsError(
        400,
        "MissingParameter",
        "Parameter x-kms-acccesskeyid does not exist in http header or body.",
      );
    }
    const date = parseRfc1123(headers.date);
    if (date === null) throw invalidParam("Date");
    if (Math.abs(this.services.now().getTime() - date) > MAX_CLOCK_SKEW_MS) {
      throw new DkmsError(400, "RequestTimeTooSkewed", "Request time exceeds server time more than 15 minutes.");
    }
    if (headers["content-sha256"]?.toUpperCase() !== contentSha256(request.body)) throw invalidContentSha256();
    const authorization = headers.authorization;
    if (authorization === undefined) throw invalidAuthorization();
    const found = await this.clientKeys.lookup(keyId.trim());
    if (found === undefined) {
      throw new DkmsError(401, "Unauthorized", "The client key in x-kms-acccesskeyid does not exist.");
    }
    if (!verifyAuthorization(found.publicKey, stringToSign(request.method, headers, request.path), authorization)) {
      throw invalidAuthorization();
    }
    return {
      ...found.identity,
      region: this.region,
      sourceIp: request.remoteAddress,
      secureTransport: request.secure,
    };
  }

  private encodeResponse(type: protobuf.Type, output: Record<string, unknown>, requestId: string): Buffer {
    const payload = { ...output, RequestId: requestId };
    const problem = type.verify(payload);
    if (problem !== null) throw new Error(`${type.name} from the operation is invalid: ${problem}`);
    return finish(type.encode(type.fromObject(payload)));
  }

  private toDkmsError(thrown: unknown, requestId: string, apiName: string | null): DkmsError {
    if (thrown instanceof DkmsError) return thrown;
    if (thrown instanceof KmsError && thrown.status < 500) return fromKmsError(thrown);
    if (thrown instanceof StoreUnavailableError) {
      // The Go SDK retries this code, as AWS clients retry DependencyTimeoutException.
      this.logger.warn({ err: thrown.cause ?? thrown, requestId, operation: apiName }, "key store unavailable");
      return new DkmsError(503, "ServiceUnavailableTemporary", "Service Unavailable Temporary.");
    }
    if (thrown instanceof KmsError && thrown.status === 503) {
      return new DkmsError(503, "ServiceUnavailableTemporary", thrown.message);
    }
    // Already explained and logged where it was thrown (e.g. an audit record that could not be written).
    if (thrown instanceof KMSInternalException) return new DkmsError(500, "InternalFailure", thrown.message);
    this.logger.error({ err: thrown, requestId, operation: apiName }, "request failed unexpectedly");
    return new DkmsError(500, "InternalFailure", `Internal Failure. Request ID: ${requestId}`);
  }
}

/** Alibaba's code and status for a domain error the operations threw. */
function fromKmsError(error: KmsError): DkmsError {
  switch (error.code) {
    case "NotFoundException":
      return new DkmsError(404, "Forbidden.KeyNotFound", error.message);
    case "AccessDeniedException":
      return new DkmsError(403, "Forbidden.NoPermission", error.message);
    case "DisabledException":
      return new DkmsError(409, "Rejected.Disabled", error.message);
    case "KMSInvalidStateException":
      return new DkmsError(409, "Rejected.InvalidKeyState", error.message);
    case "ThrottlingException":
    case "LimitExceededException":
      return new DkmsError(429, "Rejected.Throttling", error.message);
    case "UnsupportedOperationException":
      return new DkmsError(400, "Rejected.UnsupportedOperation", error.message);
    case "ValidationException":
    case "SerializationException":
      return new DkmsError(400, "InvalidParam", error.message);
    default:
      // InvalidKeyUsage, IncorrectKey, InvalidCiphertext, ...: a well-formed parameter that does not fit.
      return new DkmsError(400, "InvalidParameter", error.message);
  }
}

/** Milliseconds since the epoch of an RFC 1123 date (`Thu, 01 Feb 2024 08:00:00 GMT`), or null. */
export function parseRfc1123(value: string | undefined): number | null {
  const match = value === undefined ? null : RFC_1123.exec(value);
  if (!match) return null;
  const [day, month, year, hour, minute, second] = [
    Number(match[1]),
    MONTHS.indexOf(match[2] as string),
    Number(match[3]),
    Number(match[4]),
    Number(match[5]),
    Number(match[6]),
  ];
  const time = Date.UTC(year, month, day, hour, minute, second);
  const parsed = new Date(time);
  // Date.UTC rolls 31 Feb over into March; a real date survives the round trip.
  if (parsed.getUTCDate() !== day || parsed.getUTCHours() !== hour || minute > 59 || second > 59) return null;
  return time;
}

/**
 * Decodes a request strictly: protobufjs reads a known field whatever its wire type, so a body
 * that a Go or Java decoder refuses is refused here first, as InvalidParam, never a 5xx.
 */
function decodeRequest(type: protobuf.Type, body: Buffer): Record<string, unknown> {
  const invalidBody = () => new DkmsError(400, "InvalidParam", `The Param Body is not a valid ${type.name} message.`);
  try {
    const reader = protobuf.Reader.create(body);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const fieldNumber = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNumber === 0) throw invalidBody();
      const field = type.fieldsById[fieldNumber];
      if (field !== undefined && !wireTypeFits(field, wireType)) throw invalidBody();
      reader.skipType(wireType);
    }
    return type.toObject(type.decode(body), DECODE_OPTIONS);
  } catch (error) {
    if (error instanceof DkmsError) throw error;
    throw invalidBody();
  }
}

function wireTypeFits(field: protobuf.Field, wireType: number): boolean {
  const basic = (protobuf.types.basic as Record<string, number>)[field.type];
  if (basic === undefined) return wireType === (field.resolvedType instanceof protobuf.Enum ? 0 : 2);
  // Repeated scalars may come packed (length-delimited) or one by one.
  return wireType === basic || (field.repeated && wireType === 2);
}

/** The protobuf `Error` answer for an error found outside the edge (e.g. by the HTTP listener). */
export function dkmsErrorResponse(error: DkmsError, requestId: string = randomUUID()): DkmsResponse {
  return {
    status: error.status,
    headers: { "content-type": CONTENT_TYPE },
    body: encodeError(error, requestId),
    errorCode: error.code,
  };
}

function encodeError(error: DkmsError, requestId: string): Buffer {
  return finish(
    ERROR_TYPE.encode(
      ERROR_TYPE.create({
        StatusCode: error.status,
        ErrorCode: error.code,
        ErrorMessage: error.message,
        RequestId: requestId,
      }),
    ),
  );
}

function finish(writer: protobuf.Writer): Buffer {
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
