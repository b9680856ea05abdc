import type { GrantConstraints as GrantConstraintsShape, GrantListEntry, GrantOperation } from "@aws-sdk/client-kms";
import { type KmsKey, keyArn } from "../domain/key.js";
import { accountRootArn } from "../domain/principal.js";
import type { Grant, Page } from "../store/store.js";

/** A grant as ListGrants and ListRetirableGrants show it; absent optional fields are omitted. */
export function grantListEntry(grant: Grant, key: Pick<KmsKey, "region" | "accountId" | "keyId">): GrantListEntry {
  const entry: GrantListEntry = {
    KeyId: keyArn(key),
    GrantId: grant.grantId,
    CreationDate: grant.createdAt,
    GranteePrincipal: grant.granteePrincipal,
    IssuingAccount: accountRootArn(grant.issuingAccount),
    Operations: [...grant.operations] as GrantOperation[],
  };
  if (grant.name !== null) entry.Name = grant.name;
  if (grant.retiringPrincipal !== null) entry.RetiringPrincipal = grant.retiringPrincipal;
  const constraints: GrantConstraintsShape = {};
  if (grant.constraints?.EncryptionContextEquals) {
    constraints.EncryptionContextEquals = { ...grant.constraints.EncryptionContextEquals };
  }
  if (grant.constraints?.EncryptionContextSubset) {
    constraints.EncryptionContextSubset = { ...grant.constraints.EncryptionContextSubset };
  }
  if (Object.keys(constraints).length > 0) entry.Constraints = constraints;
  return entry;
}

/** One page of grants already in hand, ordered by grant id, after the marker's grant id. */
export function pageOfGrants(grants: readonly Grant[], after: string | null, limit: number): Page<Grant> {
  const rest = grants
    .filter((grant) => after === null || grant.grantId > after)
    .sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0));
  const items = rest.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rest.length > limit && last ? last.grantId : null };
}

/**
 * Fills a page from a store listing with the items that pass a filter the store cannot apply,
 * reading further store pages as needed, so a page is short only at the end of the listing.
 */
export async function filteredPage(
  list: (after: string | null, limit: number) => Promise<Page<Grant>>,
  keep: (grant: Grant) => Promise<boolean>,
  after: string | null,
  limit: number,
): Promise<Page<Grant>> {
  const items: Grant[] = [];
  let cursor = after;
  for (;;) {
    const page = await list(cursor, limit);
    for (const grant of page.items) {
      if (!(await keep(grant))) continue;
      const last = items.at(-1);
      if (items.length === limit && last) return { items, next: last.grantId };
      items.push(grant);
    }
    if (page.next === null) return { items, next: null };
    cursor = page.next;
  }
}
