import type { ListGrantsRequest, ListGrantsResponse } from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Grant, Page } from "../store/store.js";
import type { Operation } from "./context.js";
import { requireGrantId } from "./grant-access.js";
import { grantListEntry, pageOfGrants } from "./grant-list.js";
import { resolveKey } from "./key-access.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

export const listGrants: Operation<ListGrantsRequest, ListGrantsResponse> = async (context, input) => {
  const after = decodeMarker(input.Marker);
  if (input.GrantId !== undefined) requireGrantId(input.GrantId);
  const key = await resolveKey(context, input.KeyId as string, "kms:ListGrants", {
    "kms:GrantIsForAWSResource": "false",
  });
  const { store } = context.services;
  const limit = pageSize(input.Limit, 50, 100);
  let page: Page<Grant>;
  if (input.GrantId !== undefined) {
    const grant = await store.getGrant(input.GrantId);
    const matches =
      grant !== undefined &&
      grant.keyId === key.keyId &&
      (input.GranteePrincipal === undefined || grant.granteePrincipal === input.GranteePrincipal);
    page = pageOfGrants(matches ? [grant] : [], after, limit);
  } else if (input.GranteePrincipal !== undefined) {
    page = pageOfGrants(await store.grantsFor(storeKeyId(key), input.GranteePrincipal), after, limit);
  } else {
    page = await store.listGrants(storeKeyId(key), after, limit);
  }
  return { Grants: page.items.map((grant) => grantListEntry(grant, key)), ...pageOutput(page.next) };
};
