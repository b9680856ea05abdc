import type { KmsKey } from "../domain/key.js";
import type { RequestConditions } from "../policy/authorizer.js";
import type { RequestedGrant } from "../policy/grants.js";
import type { OperationContext } from "./context.js";
import { recipientConditions } from "./recipient.js";

/** Asks the authorizer about this request, with the caller's grant tokens and the request's condition keys. */
export function authorize(
  context: OperationContext,
  action: string,
  key: KmsKey | null,
  conditions: RequestConditions = {},
  requestedGrant?: RequestedGrant,
): Promise<void> {
  return context.services.authorizer.authorize({
    caller: context.caller,
    action,
    key,
    conditions: { ...recipientConditions(context.recipient), ...conditions },
    grantTokens: context.grantTokens,
    ...(requestedGrant ? { requestedGrant } : {}),
  });
}

/** The condition keys KMS derives from an encryption context. */
export function encryptionContextConditions(encryptionContext: Readonly<Record<string, string>> | undefined) {
  const conditions: Record<string, string | string[]> = {};
  const keys = Object.keys(encryptionContext ?? {});
  for (const key of keys)
    conditions[`kms:EncryptionContext:${key}`] = (encryptionContext as Record<string, string>)[key] as string;
  conditions["kms:EncryptionContextKeys"] = keys;
  return conditions;
}
