import { AccessDeniedException } from "../domain/errors.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import type { Caller } from "../domain/principal.js";
import type { RequestedGrant } from "./grants.js";

/** Condition-key values an operation supplies about its request (e.g. kms:EncryptionContext:purpose). */
export type RequestConditions = Readonly<Record<string, string | readonly string[]>>;

/** One decision: may `caller` perform `action` (`kms:Encrypt`, ...) on `key` (null: account-level action)? */
export interface AuthorizationRequest {
  readonly caller: Caller;
  readonly action: string;
  readonly key: KmsKey | null;
  readonly conditions: RequestConditions;
  readonly grantTokens: readonly string[];
  /** For kms:CreateGrant: the grant being asked for, which a grant allowing CreateGrant must cover. */
  readonly requestedGrant?: RequestedGrant;
}

/** The one authorizer every protocol edge's operations call. */
export interface Authorizer {
  /** Throws AccessDeniedException when the action is not allowed. */
  authorize(request: AuthorizationRequest): Promise<void>;
}

/**
 * AWS's message shape: "User: ARN is not authorized to perform: ACTION on resource: ARN because
 * REASON", or "... with an explicit deny in a ... policy" when a Deny decided it.
 */
export function accessDenied(
  request: AuthorizationRequest,
  reason: string,
  connector: "because" | "with" = "because",
): AccessDeniedException {
  const resource = request.key
    ? keyArn(request.key)
    : `arn:aws:kms:${request.caller.region}:${request.caller.accountId}:*`;
  return new AccessDeniedException(
    `User: ${request.caller.principalArn} is not authorized to perform: ${request.action} on resource: ${resource} ${connector} ${reason}`,
  );
}

/**
 * A principal may use every key of its own account and none of another's: what AWS's default key
 * policy grants a principal with full IAM permissions in the key's account.
 */
export class AccountBoundaryAuthorizer implements Authorizer {
  async authorize(request: AuthorizationRequest): Promise<void> {
    if (request.key === null || request.key.accountId === request.caller.accountId) return;
    throw accessDenied(request, `no resource-based policy allows the ${request.action} action`);
  }
}
