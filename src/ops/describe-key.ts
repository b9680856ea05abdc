import type { DescribeKeyRequest, DescribeKeyResponse } from "@aws-sdk/client-kms";
import { describeKey as keyMetadata } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";

export const describeKey: Operation<DescribeKeyRequest, DescribeKeyResponse> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:DescribeKey");
  return { KeyMetadata: keyMetadata(key) };
};
