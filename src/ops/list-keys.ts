import type { ListKeysRequest, ListKeysResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

export const listKeys: Operation<ListKeysRequest, ListKeysResponse> = async (context, input) => {
  const { caller, services } = context;
  const after = decodeMarker(input.Marker);
  await authorize(context, "kms:ListKeys", null);
  const page = await services.store.listKeys(caller.accountId, caller.region, after, pageSize(input.Limit, 100, 1000));
  return {
    Keys: page.items.map((key) => ({ KeyId: key.keyId, KeyArn: keyArn(key) })),
    ...pageOutput(page.next),
  };
};
