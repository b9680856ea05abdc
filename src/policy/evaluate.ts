import {
  type ConditionClause,
  type ConditionTest,
  type PolicyDocument,
  type PolicyKind,
  type PolicyStatement,
  type Principals,
  parseCidr,
  parseDate,
  parseIp,
  parseNumber,
} from "./policy-document.js";

/** What one authorization decision is about, as policies see it. */
export interface RequestContext {
  /** The action, e.g. `kms:Encrypt`. */
  readonly action: string;
  /** The key ARN, or `*` for account-level actions such as kms:CreateKey and kms:ListKeys. */
  readonly resource: string;
  readonly principalArn: string;
  readonly principalAccount: string;
  /**
   * Condition-key values by lower-cased name. KMS documents the whole of
   * `kms:EncryptionContext:context-key` as case-insensitive, so the context-key part is lower-cased
   * too. Single-valued keys have one value; an absent key and an empty list are both "not present".
   */
  readonly conditions: ReadonlyMap<string, readonly string[]>;
}

/** Which statement decided, for explanations and audit: its position in the Statement list and its Sid. */
export interface StatementRef {
  readonly index: number;
  readonly sid: string | null;
}

/** The first statement of each kind that applies to the request; null where none does. */
export interface StatementMatches {
  readonly deny: StatementRef | null;
  /** An Allow naming the caller itself (its ARN, `*`, or a NotPrincipal that leaves it out). */
  readonly allow: StatementRef | null;
  /**
   * An Allow naming only the caller's account (root ARN or account id). AWS treats it as
   * delegating to the account's identity policies, so it allows only together with one of them.
   */
  readonly allowViaAccount: StatementRef | null;
}

/** Matches every statement of a parsed policy against one request. For identity policies, principals play no part. */
export function evaluateStatements(
  policy: PolicyDocument,
  request: RequestContext,
  kind: PolicyKind,
): StatementMatches {
  let deny: StatementRef | null = null;
  let allow: StatementRef | null = null;
  let allowViaAccount: StatementRef | null = null;
  for (const [index, statement] of policy.statements.entries()) {
    const reach = kind === "identity" ? "caller" : principalReach(statement, request);
    if (reach === null || !appliesTo(statement, request)) continue;
    const ref = { index, sid: statement.sid };
    if (statement.effect === "Deny") deny ??= ref;
    else if (reach === "caller") allow ??= ref;
    else allowViaAccount ??= ref;
  }
  return { deny, allow, allowViaAccount };
}

type Reach = "caller" | "account";

function principalReach(statement: PolicyStatement, request: RequestContext): Reach | null {
  if (statement.principal !== null) return reachOf(statement.principal, request);
  const excluded = statement.notPrincipal;
  if (excluded === null || excluded === "*") return null;
  // AWS evaluates the caller's account as well as the caller, so NotPrincipal leaves the caller
  // out only when it lists both (the IAM guide's advice for NotPrincipal with Deny).
  if (!excluded.aws.includes(request.principalArn)) return "caller";
  if (!excluded.aws.some((arn) => isRootOf(arn, request.principalAccount))) return "account";
  return null;
}

function reachOf(principals: Principals, request: RequestContext): Reach | null {
  if (principals === "*" || principals.aws.includes(request.principalArn)) return "caller";
  if (principals.aws.some((arn) => isRootOf(arn, request.principalAccount))) return "account";
  return null;
}

const ROOT_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):root$/;

function isRootOf(arn: string, account: string): boolean {
  return ROOT_ARN.exec(arn)?.[1] === account;
}

function appliesTo(statement: PolicyStatement, request: RequestContext): boolean {
  const action = request.action.toLowerCase();
  return (
    listMatches(statement.action, statement.notAction, (pattern) => globMatch(pattern.toLowerCase(), action)) &&
    listMatches(statement.resource, statement.notResource, (pattern) => arnMatches(pattern, request.resource)) &&
    statement.condition.every((clause) => conditionHolds(clause, request.conditions))
  );
}

/** Action/NotAction and Resource/NotResource: a statement without either applies to nothing. */
function listMatches(
  included: readonly string[] | null,
  excluded: readonly string[] | null,
  matches: (pattern: string) => boolean,
): boolean {
  if (included !== null) return included.some(matches);
  if (excluded !== null) return !excluded.some(matches);
  return false;
}

const NEGATED: ReadonlySet<ConditionTest> = new Set<ConditionTest>([
  "StringNotEquals",
  "StringNotEqualsIgnoreCase",
  "StringNotLike",
  "NumericNotEquals",
  "DateNotEquals",
  "NotIpAddress",
  "ArnNotEquals",
  "ArnNotLike",
]);

function conditionHolds(clause: ConditionClause, conditions: ReadonlyMap<string, readonly string[]>): boolean {
  const values = conditions.get(clause.key) ?? [];
  if (clause.test === "Null") return clause.values.some((v) => (v.toLowerCase() === "true") === (values.length === 0));
  const negated = NEGATED.has(clause.test);
  if (values.length === 0) {
    // IAM: a missing key fails the test, so a negated test holds; IfExists holds; over the empty
    // set ForAllValues holds and ForAnyValue does not.
    if (clause.ifExists || clause.qualifier === "ForAllValues") return true;
    return clause.qualifier === null && negated;
  }
  const compare = COMPARISONS[clause.test];
  const holdsFor = (value: string) => clause.values.some((policyValue) => compare(policyValue, value)) !== negated;
  const any = clause.qualifier === "ForAnyValue" || (clause.qualifier === null && !negated);
  return any ? values.some(holdsFor) : values.every(holdsFor);
}

/** `policyValue` is from the policy, `value` from the request; negated operators reuse their positive test. */
type Comparison = (policyValue: string, value: string) => boolean;

const equalsIgnoreCase: Comparison = (policyValue, value) => policyValue.toLowerCase() === value.toLowerCase();

function numeric(test: (value: number, policyValue: number) => boolean): Comparison {
  return (policyValue, value) => {
    const a = parseNumber(value);
    const b = parseNumber(policyValue);
    return a !== null && b !== null && test(a, b);
  };
}

function date(test: (value: number, policyValue: number) => boolean): Comparison {
  return (policyValue, value) => {
    const a = parseDate(value);
    const b = parseDate(policyValue);
    return a !== null && b !== null && test(a, b);
  };
}

const ipInCidr: Comparison = (policyValue, value) => {
  const cidr = parseCidr(policyValue);
  const ip = parseIp(value);
  if (cidr === null || ip === null || cidr.address.v6 !== ip.v6) return false;
  const shift = BigInt((ip.v6 ? 128 : 32) - cidr.prefix);
  return cidr.address.bits >> shift === ip.bits >> shift;
};

const COMPARISONS: Record<Exclude<ConditionTest, "Null">, Comparison> = {
  StringEquals: (policyValue, value) => policyValue === value,
  StringNotEquals: (policyValue, value) => policyValue === value,
  StringEqualsIgnoreCase: equalsIgnoreCase,
  StringNotEqualsIgnoreCase: equalsIgnoreCase,
  StringLike: globMatch,
  StringNotLike: globMatch,
  NumericEquals: numeric((a, b) => a === b),
  NumericNotEquals: numeric((a, b) => a === b),
  NumericLessThan: numeric((a, b) => a < b),
  NumericLessThanEquals: numeric((a, b) => a <= b),
  NumericGreaterThan: numeric((a, b) => a > b),
  NumericGreaterThanEquals: numeric((a, b) => a >= b),
  DateEquals: date((a, b) => a === b),
  DateNotEquals: date((a, b) => a === b),
  DateLessThan: date((a, b) => a < b),
  DateLessThanEquals: date((a, b) => a <= b),
  DateGreaterThan: date((a, b) => a > b),
  DateGreaterThanEquals: date((a, b) => a >= b),
  Bool: equalsIgnoreCase,
  BinaryEquals: (policyValue, value) => Buffer.from(policyValue, "base64").equals(Buffer.from(value, "base64")),
  IpAddress: ipInCidr,
  NotIpAddress: ipInCidr,
  ArnEquals: arnMatches,
  ArnLike: arnMatches,
  ArnNotEquals: arnMatches,
  ArnNotLike: arnMatches,
};

/**
 * IAM matches an ARN pattern segment by segment (a wildcard never spans a colon in the first five
 * segments; the resource part keeps its own colons). A pattern or value that is not a six-part
 * ARN, such as `*`, is matched as a whole. Case-sensitive.
 */
function arnMatches(pattern: string, arn: string): boolean {
  const patternParts = arnSegments(pattern);
  const arnParts = arnSegments(arn);
  if (patternParts === null || arnParts === null) return globMatch(pattern, arn);
  return patternParts.every((segment, i) => globMatch(segment, arnParts[i] ?? ""));
}

function arnSegments(text: string): string[] | null {
  const parts = text.split(":");
  return parts.length < 6 ? null : [...parts.slice(0, 5), parts.slice(5).join(":")];
}

/** `*` matches any run of characters and `?` any one character; everything else matches itself. */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === "*") {
      star = p++;
      resume = t;
    } else if (c !== undefined && (c === "?" || c === text[t])) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}
