import type { EnableKeyRequest } from "@aws-sdk/client-kms";
import { KMSInvalidStateException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const enableKey: Operation<EnableKeyRequest, Record<string, never>> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:EnableKey");
  requireNotPendingDeletion(key);
  if (key.keyState === "PendingImport") throw new KMSInvalidStateException(`${keyArn(key)} is pending import.`);
  if (key.keyState !== "Enabled") {
    await context.services.store.updateKey(key.keyId, { keyState: "Enabled" });
  }
  return {};
};
