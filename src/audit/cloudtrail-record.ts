import type { AnsweredRequest } from "./audit-sink.js";

const MUTATING =
  /^(Create|Delete|Put|Update|Enable|Disable|Schedule|Cancel|Tag|Untag|Retire|Revoke|Rotate|Import|Replicate|Connect|Disconnect)/;

const EVENT_SOURCES: Record<AnsweredRequest["edge"], string> = {
  aws: "kms.amazonaws.com",
  alibaba: "kms.aliyuncs.com",
};

function identityType(principalArn: string): string {
  if (principalArn.endsWith(":root")) return "Root";
  if (principalArn.includes(":user/")) return "IAMUser";
  if (principalArn.includes(":role/") || principalArn.includes(":assumed-role/")) return "AssumedRole";
  return "Unknown";
}

/** CloudTrail writes times to the second. */
function cloudTrailTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A request as a CloudTrail KMS event, so tools that read CloudTrail read Trent's trail. The
 * chain fields are added when the record is written (see audit-chain.ts).
 */
export function cloudTrailRecord(request: AnsweredRequest, eventId: string, time: Date): Record<string, unknown> {
  const caller = request.caller;
  const operation = request.operation ?? "Unknown";
  return {
    eventVersion: "1.08",
    userIdentity:
      caller === null
        ? null
        : {
            type: identityType(caller.principalArn),
            principalId: caller.principalId,
            arn: caller.principalArn,
            accountId: caller.accountId,
            accessKeyId: caller.accessKeyId,
          },
    eventTime: cloudTrailTime(time),
    eventSource: request.eventSource ?? EVENT_SOURCES[request.edge],
    eventName: operation,
    awsRegion: caller?.region ?? null,
    sourceIPAddress: request.remoteAddress,
    userAgent: request.userAgent,
    ...(request.error === null ? {} : { errorCode: request.error.code, errorMessage: request.error.message }),
    requestParameters: request.requestParameters,
    responseElements: request.responseElements,
    additionalEventData: { edge: request.edge },
    requestID: request.requestId,
    eventID: eventId,
    readOnly: !MUTATING.test(operation),
    resources: [...new Set(request.resources)].map((arn) => ({
      accountId: arn.split(":")[4] ?? null,
      type: "AWS::KMS::Key",
      ARN: arn,
    })),
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: caller?.accountId ?? null,
    eventCategory: "Management",
  };
}
