import { accountRootArn } from "./principal.js";

/**
 * The key policy AWS writes when CreateKey gets none: the account may do everything, which
 * delegates access to the account's identity policies. Formatted as AWS returns it.
 */
export function defaultKeyPolicy(accountId: string): string {
  return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "${accountRootArn(accountId)}"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`;
}
