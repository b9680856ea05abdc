import type { UpdateKeyDescriptionRequest } from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const updateKeyDescription: Operation<UpdateKeyDescriptionRequest, Record<string, never>> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:UpdateKeyDescription");
  requireNotPendingDeletion(key);
  await context.services.store.updateKey(storeKeyId(key), { description: input.Description as string });
  return {};
};
