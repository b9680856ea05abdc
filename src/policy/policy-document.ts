import { isIPv4, isIPv6 } from "node:net";
import { LimitExceededException, MalformedPolicyDocumentException } from "../domain/errors.js";

/** A key policy is attached to one KMS key; an identity policy to a Trent principal (user or role). */
export type PolicyKind = "key" | "identity";
export type Effect = "Allow" | "Deny";

/**
 * Who a statement names. `"*"` is everyone (`"Principal": "*"` or an AWS list containing `"*"`).
 * AWS entries are ARNs; a bare account id is stored as that account's root ARN. Service and
 * Federated principals are kept so the document round-trips its meaning, but no Trent caller is one.
 */
export type Principals =
  | "*"
  | { readonly aws: readonly string[]; readonly service: readonly string[]; readonly federated: readonly string[] };

export const CONDITION_TESTS = [
  "StringEquals",
  "StringNotEquals",
  "StringEqualsIgnoreCase",
  "StringNotEqualsIgnoreCase",
  "StringLike",
  "StringNotLike",
  "NumericEquals",
  "NumericNotEquals",
  "NumericLessThan",
  "NumericLessThanEquals",
  "NumericGreaterThan",
  "NumericGreaterThanEquals",
  "DateEquals",
  "DateNotEquals",
  "DateLessThan",
  "DateLessThanEquals",
  "DateGreaterThan",
  "DateGreaterThanEquals",
  "Bool",
  "BinaryEquals",
  "IpAddress",
  "NotIpAddress",
  "ArnEquals",
  "ArnLike",
  "ArnNotEquals",
  "ArnNotLike",
  "Null",
] as const;
export type ConditionTest = (typeof CONDITION_TESTS)[number];
export type SetQualifier = "ForAnyValue" | "ForAllValues";

/**
 * One `"Operator": { "key": values }` entry of a Condition block, flattened: a statement's clauses
 * are ANDed, and `values` are ORed (negated operators: none may match).
 */
export interface ConditionClause {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly operator: string;
  readonly test: ConditionTest;
  readonly qualifier: SetQualifier | null;
  readonly ifExists: boolean;
  /**
   * Lower-cased: IAM condition key names are case-insensitive, and KMS documents that this
   * includes the context-key part of `kms:EncryptionContext:context-key`.
   */
  readonly key: string;
  /** JSON booleans and numbers become their string form. */
  readonly values: readonly string[];
}

/** A statement with exactly one of each pair set, except that a key policy may omit Action or Resource. */
export interface PolicyStatement {
  readonly sid: string | null;
  readonly effect: Effect;
  readonly principal: Principals | null;
  readonly notPrincipal: Principals | null;
  readonly action: readonly string[] | null;
  readonly notAction: readonly string[] | null;
  readonly resource: readonly string[] | null;
  readonly notResource: readonly string[] | null;
  readonly condition: readonly ConditionClause[];
}

export interface PolicyDocument {
  readonly version: string | null;
  readonly id: string | null;
  readonly statements: readonly PolicyStatement[];
}

/** AWS's quota on a key policy: 32 KiB. Exceeding it is a LimitExceededException, not a malformed policy. */
export const MAX_KEY_POLICY_LENGTH = 32_768;

const VERSIONS = new Set(["2012-10-17", "2008-10-17"]);
const TOP_LEVEL_ELEMENTS = new Set(["Version", "Id", "Statement"]);
const STATEMENT_ELEMENTS = new Set([
  "Sid",
  "Effect",
  "Principal",
  "NotPrincipal",
  "Action",
  "NotAction",
  "Resource",
  "NotResource",
  "Condition",
]);
const TESTS: ReadonlySet<string> = new Set(CONDITION_TESTS);
// KMS's documented key-policy alphabet: tab, LF, CR, and printable Basic Latin and Latin-1.
const KEY_POLICY_CHARACTERS = /^[\t\n\r\u0020-\u00ff]*$/;
const ACTION = /^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/;
const ACCOUNT_ID = /^\d{12}$/;
const IAM_NAME = "[\\w+=,.@-]+";
const AWS_PRINCIPAL_ARN = new RegExp(
  `^arn:aws[a-z-]*:(iam::\\d{12}:(root|(user|role)/(${IAM_NAME}/)*${IAM_NAME})|sts::\\d{12}:assumed-role/${IAM_NAME}/${IAM_NAME})$`,
);
// KMS rejects ForAllValues on these single-valued keys: it would match requests that lack them.
const OVERLY_PERMISSIVE_WITH_FOR_ALL_VALUES = ["kms:encryptioncontext:", "aws:requesttag/"];

/**
 * Parses and validates a policy document as KMS does for PutKeyPolicy/CreateKey (kind "key") or as
 * IAM does for an identity policy (kind "identity"). Throws MalformedPolicyDocumentException naming
 * what is wrong, or LimitExceededException for a key policy over 32 KiB.
 */
export function parsePolicyDocument(text: string, kind: PolicyKind): PolicyDocument {
  if (kind === "key") {
    if (text.length > MAX_KEY_POLICY_LENGTH) {
      throw new LimitExceededException(
        `Key policy is ${text.length} characters long; the limit is ${MAX_KEY_POLICY_LENGTH} characters.`,
      );
    }
    if (!KEY_POLICY_CHARACTERS.test(text)) {
      malformed("The policy contains characters other than tab, LF, CR and printable Basic Latin and Latin-1.");
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    malformed("The policy is not valid JSON.");
  }
  if (!isObject(json)) malformed("The policy must be a JSON object.");
  for (const element of Object.keys(json)) {
    if (!TOP_LEVEL_ELEMENTS.has(element)) malformed(`Unknown policy element '${element}'.`);
  }
  const version = optionalString(json.Version, "Version");
  if (version !== null && !VERSIONS.has(version)) {
    malformed(`Version '${version}' is not supported; use "2012-10-17" or "2008-10-17".`);
  }
  const id = optionalString(json.Id, "Id");
  const rawStatements = Array.isArray(json.Statement)
    ? json.Statement
    : json.Statement === undefined
      ? []
      : [json.Statement];
  if (rawStatements.length === 0) malformed("The policy must contain at least one Statement.");

  const sids = new Set<string>();
  const statements = rawStatements.map((raw: unknown, index: number) => {
    const statement = parseStatement(raw, `Statement[${index}]`, kind);
    if (statement.sid !== null && statement.sid !== "") {
      if (sids.has(statement.sid)) malformed(`Duplicate Sid '${statement.sid}'; statement ids must be unique.`);
      sids.add(statement.sid);
    }
    return statement;
  });
  return { version, id, statements };
}

function parseStatement(raw: unknown, where: string, kind: PolicyKind): PolicyStatement {
  if (!isObject(raw)) malformed(`${where} must be a JSON object.`);
  for (const element of Object.keys(raw)) {
    if (!STATEMENT_ELEMENTS.has(element)) malformed(`${where} has unknown element '${element}'.`);
  }
  const sid = optionalString(raw.Sid, `${where}.Sid`);
  if (raw.Effect !== "Allow" && raw.Effect !== "Deny") {
    malformed(
      raw.Effect === undefined
        ? `${where} has no Effect.`
        : `${where}.Effect must be "Allow" or "Deny", not ${JSON.stringify(raw.Effect)}.`,
    );
  }
  exclusive(raw, "Principal", "NotPrincipal", where);
  exclusive(raw, "Action", "NotAction", where);
  exclusive(raw, "Resource", "NotResource", where);
  const hasPrincipal = raw.Principal !== undefined || raw.NotPrincipal !== undefined;
  if (kind === "key" && !hasPrincipal) malformed(`${where} must have a Principal or NotPrincipal in a key policy.`);
  if (kind === "identity") {
    if (hasPrincipal) malformed(`${where} must not have a Principal or NotPrincipal in an identity policy.`);
    // A key policy statement without Action or Resource is accepted and has no effect, as KMS
    // documents for PutKeyPolicy; IAM requires both in identity policies.
    if (raw.Action === undefined && raw.NotAction === undefined)
      malformed(`${where} must have an Action or NotAction.`);
    if (raw.Resource === undefined && raw.NotResource === undefined) {
      malformed(`${where} must have a Resource or NotResource.`);
    }
  }
  return {
    sid,
    effect: raw.Effect,
    principal: raw.Principal === undefined ? null : parsePrincipals(raw.Principal, `${where}.Principal`),
    notPrincipal: raw.NotPrincipal === undefined ? null : parsePrincipals(raw.NotPrincipal, `${where}.NotPrincipal`),
    action: raw.Action === undefined ? null : parseActions(raw.Action, `${where}.Action`),
    notAction: raw.NotAction === undefined ? null : parseActions(raw.NotAction, `${where}.NotAction`),
    resource: raw.Resource === undefined ? null : stringList(raw.Resource, `${where}.Resource`),
    notResource: raw.NotResource === undefined ? null : stringList(raw.NotResource, `${where}.NotResource`),
    condition: raw.Condition === undefined ? [] : parseCondition(raw.Condition, `${where}.Condition`),
  };
}

function parsePrincipals(raw: unknown, where: string): Principals {
  if (raw === "*") return "*";
  if (!isObject(raw)) malformed(`${where} must be "*" or an object such as {"AWS": "arn:aws:iam::111122223333:root"}.`);
  const aws: string[] = [];
  const service: string[] = [];
  const federated: string[] = [];
  for (const [type, value] of Object.entries(raw)) {
    const names = stringList(value, `${where}.${type}`);
    if (type === "Service") service.push(...names);
    else if (type === "Federated") federated.push(...names);
    else if (type === "AWS") aws.push(...names.map((name) => awsPrincipal(name, where)));
    else malformed(`${where} has unsupported principal type '${type}'; use AWS, Service or Federated.`);
  }
  if (aws.includes("*")) return "*";
  return { aws, service, federated };
}

function awsPrincipal(name: string, where: string): string {
  if (name === "*" || AWS_PRINCIPAL_ARN.test(name)) return name;
  if (ACCOUNT_ID.test(name)) return `arn:aws:iam::${name}:root`;
  return malformed(`Policy contains a statement with one or more invalid principals: ${where} '${name}'.`);
}

function parseActions(raw: unknown, where: string): string[] {
  const actions = stringList(raw, where);
  for (const action of actions) {
    if (!ACTION.test(action)) {
      malformed(`${where} '${action}' is not an action name such as "kms:Encrypt", "kms:Generate*" or "*".`);
    }
  }
  return actions;
}

function parseCondition(raw: unknown, where: string): ConditionClause[] {
  if (!isObject(raw)) malformed(`${where} must be a JSON object mapping operators to keys and values.`);
  const clauses: ConditionClause[] = [];
  for (const [operator, entries] of Object.entries(raw)) {
    const { test, qualifier, ifExists } = parseOperator(operator, where);
    if (!isObject(entries)) malformed(`${where}.${operator} must be a JSON object mapping condition keys to values.`);
    for (const [name, rawValues] of Object.entries(entries)) {
      const key = name.toLowerCase();
      const values = conditionValues(rawValues, `${where}.${operator}.${name}`);
      for (const value of values) checkConditionValue(test, value, `${where}.${operator}.${name}`);
      if (qualifier === "ForAllValues" && OVERLY_PERMISSIVE_WITH_FOR_ALL_VALUES.some((p) => key.startsWith(p))) {
        malformed(
          `OverlyPermissiveCondition: Using the ForAllValues set operator with the single-valued condition key ${name} matches requests without it or with unspecified values. To fix, remove ForAllValues.`,
        );
      }
      clauses.push({ operator, test, qualifier, ifExists, key, values });
    }
  }
  return clauses;
}

function parseOperator(
  operator: string,
  where: string,
): { test: ConditionTest; qualifier: SetQualifier | null; ifExists: boolean } {
  const prefix = /^(ForAnyValue|ForAllValues):/.exec(operator);
  const qualifier = (prefix?.[1] as SetQualifier | undefined) ?? null;
  let rest = prefix ? operator.slice(prefix[0].length) : operator;
  const ifExists = rest.endsWith("IfExists");
  if (ifExists) rest = rest.slice(0, -"IfExists".length);
  if (!TESTS.has(rest) || (ifExists && rest === "Null"))
    malformed(`${where} has unknown condition operator '${operator}'.`);
  return { test: rest as ConditionTest, qualifier, ifExists };
}

function conditionValues(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((value: unknown) => {
    if (typeof value === "string") return value;
    if (typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return String(value);
    return malformed(`${where} values must be strings, numbers or booleans.`);
  });
}

/** Rejects values the operator could never compare, so a typo fails at PutKeyPolicy instead of never matching. */
function checkConditionValue(test: ConditionTest, value: string, where: string): void {
  if (!isValidConditionValue(test, value)) malformed(`${where} value '${value}' is not valid for ${test}.`);
}

function isValidConditionValue(test: ConditionTest, value: string): boolean {
  if (test.startsWith("Numeric")) return parseNumber(value) !== null;
  if (test.startsWith("Date")) return parseDate(value) !== null;
  switch (test) {
    case "Bool":
    case "Null":
      return /^(true|false)$/i.test(value);
    case "BinaryEquals":
      return /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0;
    case "IpAddress":
    case "NotIpAddress":
      return parseCidr(value) !== null;
    default:
      return true;
  }
}

export function parseNumber(text: string): number | null {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : null;
}

const W3C_DATE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/** Milliseconds since the epoch, from a W3C ISO 8601 date or epoch seconds (any all-digit string but a bare year). */
export function parseDate(text: string): number | null {
  if (/^\d+$/.test(text) && text.length !== 4) return Number(text) * 1000;
  if (!W3C_DATE.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

export interface IpAddress {
  readonly v6: boolean;
  readonly bits: bigint;
}

/** An IPv4 or IPv6 address; an IPv4-mapped IPv6 address (how Node reports IPv4 peers on dual-stack sockets) is IPv4. */
export function parseIp(text: string): IpAddress | null {
  if (isIPv4(text)) return { v6: false, bits: ipv4Bits(text) };
  if (!isIPv6(text) || text.includes("%")) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return { v6: false, bits: ipv4Bits(mapped[1]) };
  let hex = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(hex);
  if (dotted?.[1] !== undefined) {
    const v4 = ipv4Bits(dotted[1]);
    hex = `${hex.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = hex.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { v6: true, bits: groups.reduce((bits, group) => (bits << 16n) | BigInt(`0x${group}`), 0n) };
}

function ipv4Bits(text: string): bigint {
  return text.split(".").reduce((bits, octet) => (bits << 8n) | BigInt(octet), 0n);
}

/** A CIDR block; an address without a prefix length is the single address (/32 or /128), as IAM documents. */
export function parseCidr(text: string): { address: IpAddress; prefix: number } | null {
  const [host = "", length, extra] = text.split("/");
  const address = parseIp(host);
  if (address === null || extra !== undefined) return null;
  const width = address.v6 ? 128 : 32;
  if (length === undefined) return { address, prefix: width };
  if (!/^\d{1,3}$/.test(length) || Number(length) > width) return null;
  return { address, prefix: Number(length) };
}

function exclusive(raw: Record<string, unknown>, element: string, negated: string, where: string): void {
  if (raw[element] !== undefined && raw[negated] !== undefined) {
    malformed(`${where} must not have both ${element} and ${negated}.`);
  }
}

function stringList(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) malformed(`${where} must not be empty.`);
  for (const item of list) {
    if (typeof item !== "string" || item === "") malformed(`${where} must be a non-empty string or a list of them.`);
  }
  return list as string[];
}

function optionalString(raw: unknown, where: string): string | null {
  if (raw === undefined) return null;
  if (typeof raw !== "string") malformed(`${where} must be a string.`);
  return raw;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(message: string): never {
  throw new MalformedPolicyDocumentException(message);
}
