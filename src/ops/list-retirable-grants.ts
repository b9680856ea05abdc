import type { ListGrantsResponse, ListRetirableGrantsRequest } from "@aws-sdk/client-kms";
import type { KmsKey } from "../domain/key.js";
import { accessDenied } from "../policy/authorizer.js";
import type { Grant } from "../store/store.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { principalAccountId } from "./grant-access.js";
import { filteredPage, grantListEntry } from "./grant-list.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

export const listRetirableGrants: Operation<ListRetirableGrantsRequest, ListGrantsResponse> = async (
  context,
  input,
) => {
  const { caller, services } = context;
  const after = decodeMarker(input.Marker);
  const retiringPrincipal = input.RetiringPrincipal as string;
  await authorize(context, "kms:ListRetirableGrants", null);
  // AWS takes only a principal of the caller's account here; its grants may be on other accounts' keys.
  const principalAccount = principalAccountId(retiringPrincipal);
  if (principalAccount !== null && principalAccount !== caller.accountId) {
    throw accessDenied(
      { caller, action: "kms:ListRetirableGrants", key: null, conditions: {}, grantTokens: context.grantTokens },
      `the retiring principal ${retiringPrincipal} is not in account ${caller.accountId}`,
    );
  }
  const keys = new Map<string, KmsKey | undefined>();
  const keyOf = async (grant: Grant): Promise<KmsKey | undefined> => {
    if (!keys.has(grant.keyId)) keys.set(grant.keyId, await services.store.getKey(grant.keyId));
    return keys.get(grant.keyId);
  };
  const page = await filteredPage(
    (cursor, limit) => services.store.listRetirableGrants(retiringPrincipal, cursor, limit),
    async (grant) => {
      const key = await keyOf(grant);
      // A principal that names no account (a service principal) sees only grants on the caller's keys.
      return (
        key !== undefined &&
        key.region === caller.region &&
        (principalAccount !== null || key.accountId === caller.accountId)
      );
    },
    after,
    pageSize(input.Limit, 50, 100),
  );
  return {
    Grants: page.items.map((grant) => grantListEntry(grant, keys.get(grant.keyId) as KmsKey)),
    ...pageOutput(page.next),
  };
};
