import type { EnableKeyRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { setKeyEnabled } from "./set-key-enabled.js";

export const enableKey: Operation<EnableKeyRequest, Record<string, never>> = (context, input) =>
  setKeyEnabled(context, input.KeyId as string, "kms:EnableKey", true);
