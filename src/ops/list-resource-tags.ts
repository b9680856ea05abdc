import type { ListResourceTagsRequest, ListResourceTagsResponse } from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

export const listResourceTags: Operation<ListResourceTagsRequest, ListResourceTagsResponse> = async (
  context,
  input,
) => {
  const after = decodeMarker(input.Marker);
  const key = await resolveKey(context, input.KeyId as string, "kms:ListResourceTags");
  const page = await context.services.store.listTags(storeKeyId(key), after, pageSize(input.Limit, 50, 50));
  return { Tags: page.items, ...pageOutput(page.next) };
};
