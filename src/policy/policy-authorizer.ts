import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import { accountRootArn } from "../domain/principal.js";
import type { KeyStore } from "../store/store.js";
import { type AuthorizationRequest, type Authorizer, accessDenied } from "./authorizer.js";
import { evaluateStatements, type RequestContext } from "./evaluate.js";
import { grantAllows, grantIdFromToken, grantOperationForAction } from "./grants.js";
import { type PolicyDocument, parsePolicyDocument } from "./policy-document.js";

const ENCRYPTION_CONTEXT_PREFIX = "kms:encryptioncontext:";
const MAX_CACHED_DOCUMENTS = 10_000;

/** The only actions AWS lets a principal perform on another account's key, whatever the policies say. */
const CROSS_ACCOUNT_ACTIONS: ReadonlySet<string> = new Set(
  [
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "ListGrants",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "Verify",
    "VerifyMac",
  ].map((name) => `kms:${name.toLowerCase()}`),
);

const NO_CONDITIONS: ReadonlyMap<string, readonly string[]> = new Map();

/**
 * AWS KMS's authorization: an explicit Deny in the key policy or an identity policy wins; else the
 * key policy must allow the caller directly, or allow the caller's account, which delegates to the
 * caller's identity policies; across accounts both sides must allow. A grant for the caller allows
 * its operations under its constraints, whatever the policies say.
 */
export class PolicyAuthorizer implements Authorizer {
  /** Parsed documents by kind and text; keyed by the text itself, so an edited policy is parsed anew. */
  private readonly parsed = { key: new Map<string, PolicyDocument>(), identity: new Map<string, PolicyDocument>() };

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => Date,
  ) {}

  async authorize(request: AuthorizationRequest): Promise<void> {
    // A malformed token is an error whatever the policies say (InvalidGrantTokenException).
    for (const token of request.grantTokens) grantIdFromToken(token);
    const { caller, key, action } = request;
    const identityPolicies = (await this.store.listIdentityPolicies(caller.principalArn)).map((policy) =>
      this.document(policy.document, "identity"),
    );
    const keyPolicy = key ? this.document(key.policy, "key") : null;
    // Most policies have no Condition: the condition values (tags and aliases among them) are
    // gathered only when some statement could read them.
    const needsConditions = [...identityPolicies, ...(keyPolicy ? [keyPolicy] : [])].some((document) =>
      document.statements.some((statement) => statement.condition.length > 0),
    );
    const context: RequestContext = {
      action,
      resource: key ? keyArn(key) : "*",
      principalArn: caller.principalArn,
      principalAccount: caller.accountId,
      conditions: needsConditions ? await this.conditionValues(request) : NO_CONDITIONS,
    };
    const identity = { allow: false, deny: false };
    for (const document of identityPolicies) {
      const decision = evaluateStatements(document, context, "identity");
      if (decision.deny) identity.deny = true;
      if (decision.allow) identity.allow = true;
    }
    if (identity.deny) throw accessDenied(request, "an explicit deny in an identity-based policy", "with");

    if (key === null || keyPolicy === null) {
      if (identity.allow) return;
      throw accessDenied(request, `no identity-based policy allows the ${action} action`);
    }
    const keyDecision = evaluateStatements(keyPolicy, context, "key");
    if (keyDecision.deny) throw accessDenied(request, "an explicit deny in a resource-based policy", "with");

    const sameAccount = key.accountId === caller.accountId;
    if (!sameAccount && !CROSS_ACCOUNT_ACTIONS.has(action.toLowerCase())) {
      throw accessDenied(request, `${action} cannot be used on a KMS key in another account`);
    }

    const byPolicies = sameAccount
      ? keyDecision.allow !== null || (keyDecision.allowViaAccount !== null && identity.allow)
      : (keyDecision.allow !== null || keyDecision.allowViaAccount !== null) && identity.allow;
    if (byPolicies) return;
    if (await this.grantAllows(request, key)) return;

    if (keyDecision.allow === null && keyDecision.allowViaAccount === null) {
      throw accessDenied(request, `no resource-based policy allows the ${action} action`);
    }
    throw accessDenied(request, `no identity-based policy allows the ${action} action`);
  }

  private async grantAllows(request: AuthorizationRequest, key: KmsKey): Promise<boolean> {
    const operation = grantOperationForAction(request.action);
    if (operation === null) return false;
    const grants = [
      ...(await this.store.grantsFor(storeKeyId(key), request.caller.principalArn)),
      ...(await this.store.grantsFor(storeKeyId(key), accountRootArn(request.caller.accountId))),
    ];
    const encryptionContext = requestEncryptionContext(request);
    return grants.some((grant) => grantAllows(grant, operation, encryptionContext, request.requestedGrant));
  }

  /** The request's condition keys (lower-cased names), with the ones Trent knows about every request. */
  private async conditionValues(request: AuthorizationRequest): Promise<Map<string, readonly string[]>> {
    const { caller, key } = request;
    const now = this.now();
    const values = new Map<string, readonly string[]>([
      ["aws:principalarn", [caller.principalArn]],
      ["aws:principalaccount", [caller.accountId]],
      ["aws:principaltype", [caller.principalArn.includes(":role/") ? "AssumedRole" : "User"]],
      ["kms:calleraccount", [caller.accountId]],
      ["aws:currenttime", [now.toISOString()]],
      ["aws:epochtime", [String(Math.floor(now.getTime() / 1000))]],
      ["aws:securetransport", [String(caller.secureTransport)]],
      ["aws:requestedregion", [caller.region]],
    ]);
    if (caller.sourceIp !== null) values.set("aws:sourceip", [caller.sourceIp.replace(/^::ffff:/, "")]);
    if (key) {
      values.set("kms:keyspec", [key.keySpec]);
      values.set("kms:keyusage", [key.keyUsage]);
      values.set("kms:keyorigin", [key.origin]);
      values.set("kms:multiregion", [String(key.primaryRegion !== undefined)]);
      if (key.primaryRegion !== undefined) {
        values.set("kms:multiregionkeytype", [key.region === key.primaryRegion ? "PRIMARY" : "REPLICA"]);
      }
      const tags = await this.store.listTags(storeKeyId(key), null, 50);
      for (const tag of tags.items) values.set(`aws:resourcetag/${tag.TagKey.toLowerCase()}`, [tag.TagValue]);
      const aliases = await this.store.listAliases(key.accountId, key.region, key.keyId, null, 100);
      values.set(
        "kms:resourcealiases",
        aliases.items.map((alias) => alias.aliasName),
      );
    }
    // Condition key names are case-insensitive, the encryption-context key part included (KMS
    // documents it so); values keep their case.
    for (const [name, value] of Object.entries(request.conditions)) {
      values.set(name.toLowerCase(), typeof value === "string" ? [value] : [...value]);
    }
    return values;
  }

  private document(text: string, kind: "key" | "identity"): PolicyDocument {
    const parsed = this.parsed[kind];
    let document = parsed.get(text);
    if (!document) {
      document = parsePolicyDocument(text, kind);
      if (parsed.size >= MAX_CACHED_DOCUMENTS) parsed.clear();
      parsed.set(text, document);
    }
    return document;
  }
}

function requestEncryptionContext(request: AuthorizationRequest): Record<string, string> | undefined {
  let context: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(request.conditions)) {
    if (name.toLowerCase().startsWith(ENCRYPTION_CONTEXT_PREFIX) && typeof value === "string") {
      context ??= {};
      context[name.slice(ENCRYPTION_CONTEXT_PREFIX.length)] = value;
    }
  }
  return context;
}
