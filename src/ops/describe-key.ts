import type { DescribeKeyRequest, DescribeKeyResponse } from "@aws-sdk/client-kms";
import { type KmsKey, describeKey as keyMetadata } from "../domain/key.js";
import type { Operation, Services } from "./context.js";
import { describeCustomKeyStoreKey } from "./custom-key-store-keys.js";
import { resolveKey } from "./key-access.js";

export const describeKey: Operation<DescribeKeyRequest, DescribeKeyResponse> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:DescribeKey");
  const metadata = keyMetadata(key, await multiRegionKeyRegions(context.services, key));
  await describeCustomKeyStoreKey(context.services, key, metadata);
  return { KeyMetadata: metadata };
};

/** The regions holding a copy of a multi-Region key (none for a single-Region key). */
export async function multiRegionKeyRegions(services: Services, key: KmsKey): Promise<string[]> {
  if (key.primaryRegion === undefined) return [];
  const copies = await services.store.multiRegionKeys(key.keyId);
  return copies.filter((copy) => copy.accountId === key.accountId).map((copy) => copy.region);
}
