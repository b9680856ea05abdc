import type { DisableKeyRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { setKeyEnabled } from "./set-key-enabled.js";

export const disableKey: Operation<DisableKeyRequest, Record<string, never>> = (context, input) =>
  setKeyEnabled(context, input.KeyId as string, "kms:DisableKey", false);
