import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AuditFiles } from "../../audit/audit-files.js";
import type { AccessKeys, CallerIdentity } from "../../auth/access-keys.js";
import {
  InvalidLookupAttributesException,
  InvalidMaxResultsException,
  KMSInternalException,
  KmsError,
  SerializationException,
  ThrottlingException,
  UnknownOperationException,
  ValidationException,
} from "../../domain/errors.js";
import type { Caller } from "../../domain/principal.js";
import { type LookupEventsInput, lookupEvents } from "../../ops/cloudtrail/lookup-events.js";
import { verifyAuditTrail } from "../../ops/cloudtrail/verify-audit-trail.js";
import type { OperationContext, Services } from "../../ops/context.js";
import type { EdgeRequest, EdgeResponse } from "./aws-json-edge.js";
import cloudTrailModel from "./cloudtrail-model.json" with { type: "json" };
import { verifySigV4 } from "./sigv4.js";

/** `X-Amz-Target` of CloudTrail's operations: `<prefix>.LookupEvents`. */
export const CLOUDTRAIL_TARGET_PREFIX = cloudTrailModel.metadata.targetPrefix;
/** The short form the AWS SDK for JavaScript v3 sends (`CloudTrail_20131101.LookupEvents`), which CloudTrail also accepts. */
const CLOUDTRAIL_SHORT_PREFIX = CLOUDTRAIL_TARGET_PREFIX.slice(CLOUDTRAIL_TARGET_PREFIX.lastIndexOf(".") + 1);
/** Trent's own audit operation, signed for the same service: `TrentAuditService.VerifyAuditTrail`. */
export const TRENT_AUDIT_TARGET_PREFIX = "TrentAuditService";
const SIGNING_SERVICE = "cloudtrail";
const EVENT_SOURCE = "cloudtrail.amazonaws.com";

interface Shape {
  readonly type: string;
  readonly required?: readonly string[];
  readonly members?: Readonly<Record<string, { readonly shape: string }>>;
  readonly member?: { readonly shape: string };
  readonly min?: number;
  readonly max?: number;
  readonly enum?: readonly string[];
}

const SHAPES = cloudTrailModel.shapes as unknown as Record<string, Shape>;

/** Whether a request's X-Amz-Target is one this edge answers (the listener routes by it). */
export function isCloudTrailTarget(target: string | undefined): boolean {
  return (
    target !== undefined &&
    (target.startsWith(`${CLOUDTRAIL_TARGET_PREFIX}.`) ||
      target.startsWith(`${CLOUDTRAIL_SHORT_PREFIX}.`) ||
      target.startsWith(`${TRENT_AUDIT_TARGET_PREFIX}.`))
  );
}

/**
 * The CloudTrail API over Trent's audit trail, beside the KMS edge on the same listener:
 * LookupEvents (AWS's JSON 1.1 protocol, SigV4 for the `cloudtrail` service), so the web console,
 * `aws cloudtrail lookup-events --endpoint-url` and the SDKs' CloudTrail clients read the trail,
 * and Trent's VerifyAuditTrail, which checks its chains. These requests are audited too.
 */
export class CloudTrailEdge {
  constructor(
    private readonly services: Services,
    private readonly accessKeys: AccessKeys,
    private readonly files: AuditFiles,
    private readonly logger: Logger,
  ) {}

  async handle(request: EdgeRequest): Promise<EdgeResponse> {
    const requestId = randomUUID();
    const started = performance.now();
    const target = request.headers.get("x-amz-target")?.[0] ?? "";
    const named = operationOf(target);
    let caller: Caller | null = null;
    let requestParameters: Record<string, unknown> | null = null;
    let payload: unknown;
    let error: KmsError | null = null;
    try {
      const identities = new Map<string, CallerIdentity>();
      const verified = await verifySigV4(
        request,
        async (accessKeyId) => {
          const found = await this.accessKeys.lookup(accessKeyId);
          if (found) identities.set(accessKeyId, found.identity);
          return found?.secret;
        },
        Date.now(),
        SIGNING_SERVICE,
      );
      caller = {
        ...(identities.get(verified.accessKeyId) as CallerIdentity),
        region: verified.region,
        sourceIp: request.remoteAddress,
        secureTransport: request.secure,
      };
      if (named !== null) admit(this.services, caller, named);
      const body = parseBody(request);
      const context: OperationContext = { caller, services: this.services, resources: [], grantTokens: [] };
      if (named === "LookupEvents") {
        const input = decodeLookupEvents(body);
        // The members CloudTrail defines, not whatever else a client put in the body.
        requestParameters = Object.fromEntries(Object.entries(body).filter(([name]) => Object.hasOwn(input, name)));
        payload = lookupEventsWire(await lookupEvents(context, input, this.files));
      } else if (named === "VerifyAuditTrail") {
        const output = await verifyAuditTrail(context, this.files);
        payload = { ...output, CheckedAt: output.CheckedAt.getTime() / 1000 };
      } else {
        throw new UnknownOperationException(
          target === "" ? "The request has no X-Amz-Target header." : `Unknown operation ${target}.`,
        );
      }
    } catch (thrown) {
      error = thrown instanceof KmsError ? thrown : this.internalError(thrown, requestId);
      payload = { __type: error.code, message: error.message };
    }
    try {
      await this.services.audit.record({
        edge: "aws",
        eventSource: EVENT_SOURCE,
        requestId,
        operation: named,
        caller,
        remoteAddress: request.remoteAddress,
        userAgent: request.headers.get("user-agent")?.[0] ?? null,
        resources: [],
        requestParameters,
        responseElements: null,
        error: error === null ? null : { code: error.code, message: error.message },
      });
    } catch (auditFailure) {
      error = auditFailure instanceof KmsError ? auditFailure : this.internalError(auditFailure, requestId);
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

  private internalError(thrown: unknown, requestId: string): KmsError {
    this.logger.error({ err: thrown, requestId }, "audit API request failed unexpectedly");
    return new KMSInternalException(`An internal error occurred. Request ID: ${requestId}`);
  }
}

/** CloudTrail's wording when a caller is over its rate (the KMS edge's names KMS). */
export const CLOUDTRAIL_THROTTLING_MESSAGE = "Rate exceeded";

/** The quota check before the request is parsed, as on the KMS edge, answered as CloudTrail answers it. */
function admit(services: Services, caller: Caller, operation: string): void {
  try {
    services.quotas.admit(caller, operation);
  } catch (thrown) {
    if (!(thrown instanceof ThrottlingException)) throw thrown;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      throw new ThrottlingException(CLOUDTRAIL_THROTTLING_MESSAGE);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

function operationOf(target: string): string | null {
  if (target === `${CLOUDTRAIL_TARGET_PREFIX}.LookupEvents` || target === `${CLOUDTRAIL_SHORT_PREFIX}.LookupEvents`) {
    return "LookupEvents";
  }
  return target === `${TRENT_AUDIT_TARGET_PREFIX}.VerifyAuditTrail` ? "VerifyAuditTrail" : null;
}

function parseBody(request: EdgeRequest): Record<string, unknown> {
  const contentType = request.headers.get("content-type")?.[0]?.split(";")[0]?.trim().toLowerCase();
  if (contentType !== "application/x-amz-json-1.1" && contentType !== "application/json") {
    throw new SerializationException("Content-Type must be application/x-amz-json-1.1.");
  }
  if (request.body.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString("utf8"));
  } catch {
    throw new SerializationException("The request body is not valid JSON.");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SerializationException("The request body must be a JSON object.");
  }
  return body as Record<string, unknown>;
}

/** Checks a LookupEvents request against the CloudTrail model's shapes; answers as CloudTrail does. */
export function decodeLookupEvents(body: Record<string, unknown>): LookupEventsInput {
  const problems: string[] = [];
  const decoded = decodeShape("LookupEventsRequest", body, "", problems) as Record<string, unknown>;
  if (problems.length > 0) {
    const message = `${problems.length} validation error${problems.length > 1 ? "s" : ""} detected: ${problems.join("; ")}`;
    if (problems.some((problem) => problem.includes("'maxResults'"))) throw new InvalidMaxResultsException(message);
    if (problems.some((problem) => problem.includes("'lookupAttributes"))) {
      throw new InvalidLookupAttributesException(message);
    }
    throw new ValidationException(message);
  }
  return decoded as LookupEventsInput;
}

function memberPath(path: string, member: string): string {
  const name = member.charAt(0).toLowerCase() + member.slice(1);
  return path === "" ? name : `${path}.${name}`;
}

function decodeShape(shapeName: string, value: unknown, path: string, problems: string[]): unknown {
  const shape = SHAPES[shapeName] as Shape;
  const wrongType = () => new SerializationException(`Unexpected value type at '${path}': expected a ${shape.type}.`);
  switch (shape.type) {
    case "structure": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw wrongType();
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const required of shape.required ?? []) {
        if (input[required] === undefined || input[required] === null) {
          problems.push(
            `Value null at '${memberPath(path, required)}' failed to satisfy constraint: Member must not be null`,
          );
        }
      }
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        const member = input[name];
        if (member === undefined || member === null) continue;
        out[name] = decodeShape(ref.shape, member, memberPath(path, name), problems);
      }
      return out;
    }
    case "list": {
      if (!Array.isArray(value)) throw wrongType();
      return value.map((item, index) =>
        decodeShape((shape.member as { shape: string }).shape, item, `${path}.${index + 1}.member`, problems),
      );
    }
    case "string": {
      if (typeof value !== "string") throw wrongType();
      if (shape.enum !== undefined && !shape.enum.includes(value)) {
        problems.push(
          `Value '${value}' at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [${shape.enum.join(", ")}]`,
        );
      }
      if (shape.min !== undefined && value.length < shape.min) {
        problems.push(
          `Value '${value}' at '${path}' failed to satisfy constraint: Member must have length greater than or equal to ${shape.min}`,
        );
      }
      if (shape.max !== undefined && value.length > shape.max) {
        problems.push(
          `Value at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`,
        );
      }
      return value;
    }
    case "integer": {
      if (typeof value !== "number" || !Number.isInteger(value)) throw wrongType();
      if (shape.min !== undefined && value < shape.min) {
        problems.push(
          `Value '${value}' at '${path}' failed to satisfy constraint: Member must have value greater than or equal to ${shape.min}`,
        );
      }
      if (shape.max !== undefined && value > shape.max) {
        problems.push(
          `Value '${value}' at '${path}' failed to satisfy constraint: Member must have value less than or equal to ${shape.max}`,
        );
      }
      return value;
    }
    case "timestamp": {
      // The JSON protocol sends epoch seconds; ISO 8601 strings are accepted as the CLI may send them.
      const time =
        typeof value === "number" ? value * 1000 : typeof value === "string" ? Date.parse(value) : Number.NaN;
      // Beyond ±8.64e15 ms a Date is invalid, and would compare as nothing.
      if (!Number.isFinite(time) || Number.isNaN(new Date(time).getTime())) throw wrongType();
      return new Date(time);
    }
    default:
      throw wrongType();
  }
}

function lookupEventsWire(output: Awaited<ReturnType<typeof lookupEvents>>): Record<string, unknown> {
  return {
    Events: output.Events.map((event) => ({ ...event, EventTime: event.EventTime.getTime() / 1000 })),
    ...(output.NextToken === undefined ? {} : { NextToken: output.NextToken }),
  };
}
