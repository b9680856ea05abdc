import type { AuditFiles, ChainPosition, RecordCursor, StoredRecord } from "../../audit/audit-files.js";
import {
  AccessDeniedException,
  InvalidLookupAttributesException,
  InvalidNextTokenException,
  InvalidTimeRangeException,
} from "../../domain/errors.js";
import { authorize } from "../authorize.js";
import type { OperationContext } from "../context.js";

export type LookupAttributeKey =
  | "EventId"
  | "EventName"
  | "ReadOnly"
  | "Username"
  | "ResourceType"
  | "ResourceName"
  | "EventSource"
  | "AccessKeyId";

export interface LookupEventsInput {
  readonly LookupAttributes?: readonly { readonly AttributeKey: LookupAttributeKey; readonly AttributeValue: string }[];
  readonly StartTime?: Date;
  readonly EndTime?: Date;
  readonly MaxResults?: number;
  readonly NextToken?: string;
  /** "insight" asks for CloudTrail Insights events, of which Trent's trail has none. */
  readonly EventCategory?: string;
}

export interface LookupEvent {
  readonly EventId: string;
  readonly EventName: string;
  readonly ReadOnly: string;
  readonly AccessKeyId?: string;
  readonly EventTime: Date;
  readonly EventSource: string;
  readonly Username?: string;
  readonly Resources: readonly { readonly ResourceType: string; readonly ResourceName: string }[];
  /** The whole record, as CloudTrail gives it: a JSON string. */
  readonly CloudTrailEvent: string;
}

export interface LookupEventsOutput {
  readonly Events: LookupEvent[];
  readonly NextToken?: string;
}

/** The IAM action that reads the trail (LookupEvents) and checks its chains (VerifyAuditTrail). */
export const LOOKUP_EVENTS_ACTION = "cloudtrail:LookupEvents";

const DEFAULT_MAX_RESULTS = 50;
/** A lookup reads at most this many records before it answers with what it found and a NextToken. */
const MAX_RECORDS_SCANNED = 20_000;

interface Token extends RecordCursor {
  /** The time window of the first page, so that later pages keep it. */
  readonly start: number | null;
  readonly end: number | null;
}

/**
 * CloudTrail's LookupEvents over Trent's own audit trail: the request records of every chain
 * under the audit directory, newest first, matching at most one lookup attribute and a time
 * window, a page at a time. Allowed by the IAM action cloudtrail:LookupEvents in an identity
 * policy; key policies do not govern the trail.
 */
export async function lookupEvents(
  context: OperationContext,
  input: LookupEventsInput,
  files: AuditFiles,
): Promise<LookupEventsOutput> {
  await authorizeTrailRead(context);
  const attributes = input.LookupAttributes ?? [];
  if (attributes.length > 1) {
    throw new InvalidLookupAttributesException("You can only specify one lookup attribute.");
  }
  const token = input.NextToken === undefined ? undefined : parseToken(input.NextToken);
  const start = token ? token.start : (input.StartTime?.getTime() ?? null);
  const end = token ? token.end : (input.EndTime?.getTime() ?? null);
  if (start !== null && end !== null && start > end) {
    throw new InvalidTimeRangeException("Start time must be before end time.");
  }
  if (input.EventCategory === "insight") return { Events: [] };
  const matches = attributes[0] === undefined ? () => true : attributeMatcher(attributes[0]);
  const limit = input.MaxResults ?? DEFAULT_MAX_RESULTS;
  const events: LookupEvent[] = [];
  const records = await files.newestFirst(token);
  try {
    for (let scanned = 1; ; scanned++) {
      const stored = await records.next();
      if (stored === undefined) break;
      const time = Date.parse(stored.eventTime);
      if (start !== null && time < start) break;
      if ((end === null || time <= end) && matches(stored.record)) events.push(eventOf(stored));
      if (events.length === limit || scanned === MAX_RECORDS_SCANNED) {
        const more = records.peek();
        const hasMore = more !== undefined && (start === null || Date.parse(more.eventTime) >= start);
        return hasMore
          ? { Events: events, NextToken: tokenFor(stored, records.positions(), start, end) }
          : { Events: events };
      }
    }
    return { Events: events };
  } finally {
    await records.close();
  }
}

/** Authorizes reading the audit trail, answering as IAM does for a non-KMS action. */
export async function authorizeTrailRead(context: OperationContext): Promise<void> {
  try {
    await authorize(context, LOOKUP_EVENTS_ACTION, null);
  } catch (error) {
    if (!(error instanceof AccessDeniedException)) throw error;
    // The KMS-shaped message names a KMS resource; IAM's for CloudTrail names none.
    throw new AccessDeniedException(error.message.replace(/ on resource: \S+/, ""));
  }
}

function attributeMatcher(attribute: {
  readonly AttributeKey: LookupAttributeKey;
  readonly AttributeValue: string;
}): (record: Readonly<Record<string, unknown>>) => boolean {
  const value = attribute.AttributeValue;
  switch (attribute.AttributeKey) {
    case "EventId":
      return (record) => record.eventID === value;
    case "EventName":
      return (record) => record.eventName === value;
    case "ReadOnly":
      return (record) => String(record.readOnly) === value;
    case "Username":
      return (record) => userNameOf(record) === value;
    case "AccessKeyId":
      return (record) => identityOf(record)?.accessKeyId === value;
    case "EventSource":
      return (record) => record.eventSource === value;
    case "ResourceType":
      return (record) => resourcesOf(record).some((resource) => resource.ResourceType === value);
    case "ResourceName":
      return (record) =>
        resourcesOf(record).some(
          (resource) => resource.ResourceName === value || resource.ResourceName.endsWith(`:key/${value}`),
        );
  }
}

function identityOf(
  record: Readonly<Record<string, unknown>>,
): { arn?: string; accessKeyId?: string; type?: string } | null {
  const identity = record.userIdentity;
  return typeof identity === "object" && identity !== null ? (identity as { arn?: string }) : null;
}

/** CloudTrail's user name: the IAM user's name, `root`, or a role session's name; here from the ARN. */
function userNameOf(record: Readonly<Record<string, unknown>>): string | undefined {
  const identity = identityOf(record);
  if (identity?.arn === undefined) return undefined;
  if (identity.type === "Root" || identity.arn.endsWith(":root")) return "root";
  return identity.arn.slice(identity.arn.lastIndexOf("/") + 1);
}

function resourcesOf(record: Readonly<Record<string, unknown>>): { ResourceType: string; ResourceName: string }[] {
  const resources = Array.isArray(record.resources) ? (record.resources as { type?: unknown; ARN?: unknown }[]) : [];
  return resources.flatMap((resource) =>
    typeof resource.ARN === "string"
      ? [
          {
            ResourceType: typeof resource.type === "string" ? resource.type : "AWS::KMS::Key",
            ResourceName: resource.ARN,
          },
        ]
      : [],
  );
}

function eventOf(stored: StoredRecord): LookupEvent {
  const record = stored.record;
  const accessKeyId = identityOf(record)?.accessKeyId;
  const userName = userNameOf(record);
  return {
    EventId: String(record.eventID ?? ""),
    EventName: String(record.eventName ?? ""),
    ReadOnly: String(record.readOnly ?? ""),
    ...(accessKeyId === undefined ? {} : { AccessKeyId: accessKeyId }),
    EventTime: new Date(stored.eventTime),
    EventSource: String(record.eventSource ?? ""),
    ...(userName === undefined ? {} : { Username: userName }),
    Resources: resourcesOf(record),
    CloudTrailEvent: stored.line,
  };
}

function tokenFor(
  stored: StoredRecord,
  positions: Record<string, ChainPosition | null>,
  start: number | null,
  end: number | null,
): string {
  const { eventTime, chain, sequence } = stored;
  const token: Token = { eventTime, chain, sequence, positions, start, end };
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function isPosition(value: unknown): value is ChainPosition | null {
  if (value === null) return true;
  if (!Array.isArray(value) || value.length !== 3) return false;
  const [file, offset, sequence] = value as unknown[];
  return typeof file === "string" && Number.isSafeInteger(offset) && Number.isSafeInteger(sequence);
}

function parseToken(text: string): Token {
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    token = null;
  }
  const t = token as Partial<Token> | null;
  const timeOrNull = (value: unknown) => value === null || (typeof value === "number" && Number.isFinite(value));
  if (
    t === null ||
    typeof t !== "object" ||
    typeof t.eventTime !== "string" ||
    typeof t.chain !== "string" ||
    typeof t.sequence !== "number" ||
    !timeOrNull(t.start) ||
    !timeOrNull(t.end) ||
    (t.positions !== undefined &&
      (typeof t.positions !== "object" || t.positions === null || !Object.values(t.positions).every(isPosition)))
  ) {
    throw new InvalidNextTokenException("Invalid NextToken.");
  }
  return t as Token;
}
