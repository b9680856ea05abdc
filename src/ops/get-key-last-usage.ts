import type {
  GetKeyLastUsageRequest,
  GetKeyLastUsageResponse,
  KeyLastUsageTrackingOperation,
} from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";

/**
 * The key's last successful cryptographic use, as the audit trail recorded it (see
 * audit/key-usage.ts). Tracking starts when the key was created or when this Trent began
 * tracking, whichever is later.
 */
export const getKeyLastUsage: Operation<GetKeyLastUsageRequest, GetKeyLastUsageResponse> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:GetKeyLastUsage");
  const ledger = context.services.keyUsage;
  const [usage, since] = await Promise.all([ledger.lastUsage(storeKeyId(key)), ledger.trackingSince()]);
  return {
    KeyId: key.keyId,
    ...(usage === undefined
      ? {}
      : {
          KeyLastUsage: {
            Operation: usage.operation as KeyLastUsageTrackingOperation,
            Timestamp: usage.timestamp,
            CloudTrailEventId: usage.eventId,
            KmsRequestId: usage.requestId,
          },
        }),
    TrackingStartDate: new Date(Math.max(since.getTime(), key.createdAt.getTime())),
    KeyCreationDate: key.createdAt,
  };
};
