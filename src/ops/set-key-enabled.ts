import { KMSInvalidStateException } from "../domain/errors.js";
import { keyArn, storeKeyId } from "../domain/key.js";
import type { OperationContext } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

/**
 * EnableKey and DisableKey: the change applies only while the key is Enabled or Disabled, checked
 * in the same write, so a concurrent ScheduleKeyDeletion is never undone.
 */
export async function setKeyEnabled(
  context: OperationContext,
  keyIdParameter: string,
  action: string,
  enabled: boolean,
): Promise<Record<string, never>> {
  const key = await resolveKey(context, keyIdParameter, action);
  const { store } = context.services;
  if (await store.updateKey(storeKeyId(key), { keyState: enabled ? "Enabled" : "Disabled" }, ["Enabled", "Disabled"])) {
    return {};
  }
  const current = (await store.getKey(storeKeyId(key))) ?? key;
  requireNotPendingDeletion(current);
  const state = current.keyState === "PendingImport" ? "pending import" : current.keyState;
  throw new KMSInvalidStateException(`${keyArn(current)} is ${state}.`);
}
