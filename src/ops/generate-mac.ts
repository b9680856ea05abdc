import { createHmac } from "node:crypto";
import type { GenerateMacRequest, GenerateMacResponse, MacAlgorithmSpec } from "@aws-sdk/client-kms";
import { type KmsKey, keyArn } from "../domain/key.js";
import { keySpecInfo } from "../domain/key-specs.js";
import { keyMaterial, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";

/** The checks GenerateMac and VerifyMac share, then the RFC 2104 HMAC of the message under the key. */
export async function macOf(
  context: OperationContext,
  input: {
    KeyId?: string | undefined;
    MacAlgorithm?: MacAlgorithmSpec | undefined;
    Message?: Uint8Array | undefined;
    DryRun?: boolean | undefined;
  },
  action: string,
  operation: string,
): Promise<{ key: KmsKey; mac: Buffer }> {
  const algorithm = input.MacAlgorithm as MacAlgorithmSpec;
  const key = await resolveKey(context, input.KeyId as string, action, { "kms:MacAlgorithm": algorithm });
  requireUsage(key, "GENERATE_VERIFY_MAC", operation);
  requireAlgorithm(key, "mac", algorithm);
  stopIfDryRun(input);
  const material = keySpecInfo(key.keySpec).material;
  if (material.kind !== "hmac") throw new Error(`${key.keySpec} is not an HMAC key spec`);
  const hmac = createHmac(material.hash, await keyMaterial(context.services, key));
  return { key, mac: hmac.update(input.Message as Uint8Array).digest() };
}

export const generateMac: Operation<GenerateMacRequest, GenerateMacResponse> = async (context, input) => {
  const { key, mac } = await macOf(context, input, "kms:GenerateMac", "GenerateMac");
  return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: keyArn(key) };
};
