/** The authenticated caller of a request, as every operation and the authorizer see it. */
export interface Caller {
  /** The IAM-style ARN of the principal, e.g. arn:aws:iam::111122223333:user/admin. */
  readonly principalArn: string;
  readonly principalId: string;
  readonly accountId: string;
  readonly accessKeyId: string;
  /** The region the request was signed for; keys and aliases live per account and region. */
  readonly region: string;
  /** The client's address (aws:SourceIp), when known. */
  readonly sourceIp: string | null;
  /** Whether the request came over TLS (aws:SecureTransport). */
  readonly secureTransport: boolean;
}

export function userArn(accountId: string, userName: string): string {
  return `arn:aws:iam::${accountId}:user/${userName}`;
}

export function accountRootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}
