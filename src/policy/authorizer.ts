import { AccessDeniedException } from "../domain/errors.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import type { Caller } from "../domain/principal.js";

/** Decides whether a caller may perform a KMS action (`kms:Encrypt`, ...) on a key or the account. */
export interface Authorizer {
  /** Throws AccessDeniedException when the action is not allowed. `key` is null for account-level actions. */
  authorize(caller: Caller, action: string, key: KmsKey | null): Promise<void>;
}

/**
 * Until key policies and identity policies are evaluated, a principal may use every key of its
 * own account and none of another's, which is what AWS's default key policy grants to a
 * principal with full IAM permissions in the key's account.
 */
export class AccountBoundaryAuthorizer implements Authorizer {
  async authorize(caller: Caller, action: string, key: KmsKey | null): Promise<void> {
    if (key === null || key.accountId === caller.accountId) return;
    throw new AccessDeniedException(
      `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${keyArn(key)} because no resource-based policy allows the ${action} action`,
    );
  }
}
