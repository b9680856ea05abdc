import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AccessKeys, CallerIdentity } from "../../auth/access-keys.js";
import {
  DependencyTimeoutException,
  KMSInternalException,
  KmsError,
  SerializationException,
  UnknownOperationException,
  UnsupportedOperationException,
} from "../../domain/errors.js";
import type { Caller } from "../../domain/principal.js";
import type { OperationContext, Services } from "../../ops/context.js";
import { KMS_OPERATIONS } from "../../ops/index.js";
import { StoreUnavailableError } from "../../store/store-errors.js";
import { auditView } from "./audit-parameters.js";
import { decodeInput, OPERATIONS, type OperationModel, TARGET_PREFIX, toWire, wipeBytes } from "./shapes.js";
import { type IncomingSignedRequest, verifySigV4 } from "./sigv4.js";

export interface EdgeRequest extends IncomingSignedRequest {
  readonly remoteAddress: string | null;
  readonly secure: boolean;
}

export interface EdgeResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Reads whose answers the audit record does not repeat, as CloudTrail leaves them out. */
const READS_NOT_REPEATED = /^(List|Describe|Get)/;

const JSON_CONTENT_TYPES = new Set(["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"]);

/**
 * The AWS JSON 1.1 protocol edge: authenticates with SigV4, routes `X-Amz-Target` to an
 * operation, validates the body against the model, and maps every outcome, including
 * unexpected failures, to the wire form AWS uses. Every request passes the audit hook.
 */
export class AwsJsonEdge {
  constructor(
    private readonly services: Services,
    private readonly accessKeys: AccessKeys,
    private readonly logger: Logger,
  ) {}

  async handle(request: EdgeRequest): Promise<EdgeResponse> {
    const requestId = randomUUID();
    const started = performance.now();
    const resources: string[] = [];
    const named = this.namedOperation(request);
    let caller: Caller | null = null;
    let requestParameters: Record<string, unknown> | null = null;
    let responseElements: Record<string, unknown> | null = null;
    let payload: unknown;
    let error: KmsError | null = null;
    try {
      const identityByKey = new Map<string, CallerIdentity>();
      const verified = await verifySigV4(
        request,
        async (accessKeyId) => {
          const found = await this.accessKeys.lookup(accessKeyId);
          if (found) identityByKey.set(accessKeyId, found.identity);
          return found?.secret;
        },
        Date.now(),
      );
      caller = {
        ...(identityByKey.get(verified.accessKeyId) as CallerIdentity),
        region: verified.region,
        sourceIp: request.remoteAddress,
        secureTransport: request.secure,
      };
      const operationName = this.operationName(request, named);
      // Before the body is parsed: a throttled request should cost as little as possible.
      this.services.quotas.admit(caller, operationName);
      requireJsonContentType(request);
      const model = OPERATIONS[operationName] as OperationModel;
      const input = decodeInput(model.input, parseBody(request.body));
      const audit = this.services.audit;
      requestParameters = auditView(model.input, input, (value) => audit.correlationHash(value));
      const operation = KMS_OPERATIONS[operationName];
      if (!operation) throw new UnsupportedOperationException(`Trent does not implement ${operationName} yet.`);
      const grantTokens = (input.GrantTokens as string[] | undefined) ?? [];
      const context: OperationContext = { caller, services: this.services, resources, grantTokens };
      try {
        const output = await operation(context, input as never);
        payload = toWire(output);
        if (!READS_NOT_REPEATED.test(operationName)) {
          responseElements = auditView(model.output, output, (value) => audit.correlationHash(value));
        }
        wipeBytes(output);
      } finally {
        wipeBytes(input);
      }
    } catch (thrown) {
      error = thrown instanceof KmsError ? thrown : this.internalError(thrown, requestId, named);
      payload = { __type: error.code, message: error.message };
    }
    try {
      await this.services.audit.record({
        edge: "aws",
        requestId,
        operation: named,
        caller,
        remoteAddress: request.remoteAddress,
        userAgent: request.headers.get("user-agent")?.[0] ?? null,
        resources,
        requestParameters,
        responseElements,
        error: error === null ? null : { code: error.code, message: error.message },
      });
    } catch (auditFailure) {
      // A request that cannot be recorded is not answered with its result.
      error = auditFailure instanceof KmsError ? auditFailure : this.internalError(auditFailure, requestId, named);
      payload = { __type: error.code, message: error.message };
    }
    const status = error?.status ?? 200;
    this.services.metrics.answered({
      edge: "aws",
      operation: named,
      errorCode: error?.code ?? null,
      status,
      seconds: (performance.now() - started) / 1000,
    });
    return {
      status,
      headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId },
      body: JSON.stringify(payload),
    };
  }

  /** The operation X-Amz-Target names, if it is one of KMS's; read before authentication, for the record. */
  private namedOperation(request: EdgeRequest): string | null {
    const targets = request.headers.get("x-amz-target");
    const target = targets?.length === 1 ? (targets[0] as string) : "";
    const dot = target.indexOf(".");
    const name = target.slice(dot + 1);
    return dot >= 0 && target.slice(0, dot) === TARGET_PREFIX && Object.hasOwn(OPERATIONS, name) ? name : null;
  }

  private operationName(request: EdgeRequest, named: string | null): string {
    if (named === null) {
      const targets = request.headers.get("x-amz-target");
      const target = targets?.length === 1 ? (targets[0] as string) : "";
      throw new UnknownOperationException(
        target === ""
          ? "The request has no X-Amz-Target header naming a KMS operation."
          : `Unknown operation ${target}.`,
      );
    }
    return named;
  }

  private internalError(thrown: unknown, requestId: string, operationName: string | null): KmsError {
    if (thrown instanceof StoreUnavailableError) {
      // Retryable, as AWS answers when a dependency is down: clients back off and try again.
      this.logger.warn({ err: thrown.cause ?? thrown, requestId, operation: operationName }, "key store unavailable");
      return new DependencyTimeoutException(
        `The key store is unavailable; retry the request. Request ID: ${requestId}`,
      );
    }
    this.logger.error({ err: thrown, requestId, operation: operationName }, "request failed unexpectedly");
    return new KMSInternalException(`An internal error occurred. Request ID: ${requestId}`);
  }
}

function requireJsonContentType(request: EdgeRequest): void {
  const values = request.headers.get("content-type");
  const contentType = values?.length === 1 ? (values[0] as string).split(";")[0]?.trim().toLowerCase() : undefined;
  if (contentType === undefined || !JSON_CONTENT_TYPES.has(contentType)) {
    throw new SerializationException("Content-Type must be application/x-amz-json-1.1.");
  }
}

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new SerializationException("The request body is not valid JSON.");
  }
}
