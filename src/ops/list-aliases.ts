import type { ListAliasesRequest, ListAliasesResponse } from "@aws-sdk/client-kms";
import { aliasArn } from "../domain/key.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

export const listAliases: Operation<ListAliasesRequest, ListAliasesResponse> = async (context, input) => {
  const { caller, services } = context;
  const after = decodeMarker(input.Marker);
  let targetKeyId: string | null = null;
  if (input.KeyId !== undefined) {
    targetKeyId = (await resolveKey(context, input.KeyId, "kms:ListAliases")).keyId;
  } else {
    await authorize(context, "kms:ListAliases", null);
  }
  const page = await services.store.listAliases(
    caller.accountId,
    caller.region,
    targetKeyId,
    after,
    pageSize(input.Limit, 50, 100),
  );
  return {
    Aliases: page.items.map((alias) => ({
      AliasName: alias.aliasName,
      AliasArn: aliasArn(alias.region, alias.accountId, alias.aliasName),
      TargetKeyId: alias.targetKeyId,
      CreationDate: alias.createdAt,
      LastUpdatedDate: alias.lastUpdatedAt,
    })),
    ...pageOutput(page.next),
  };
};
