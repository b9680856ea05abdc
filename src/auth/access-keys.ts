import { randomBytes } from "node:crypto";
import type { Caller } from "../domain/principal.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import type { KeyStore, Principal } from "../store/store.js";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += BASE32[byte & 31];
  return out;
}

export function secretContext(accessKeyId: string): string {
  return `trent/access-key-secret/${accessKeyId}`;
}

export interface IssuedAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly principalArn: string;
}

/** A principal's identity as the edge learns it from a verified access key. */
export type CallerIdentity = Omit<Caller, "region" | "sourceIp" | "secureTransport">;

/**
 * Access keys for SigV4. The secret must be recoverable to verify signatures, so it is stored
 * wrapped under the root of trust with the access key id bound as associated data.
 */
const MAX_CACHED_SECRETS = 10_000;

export class AccessKeys {
  /**
   * Unwrapped secrets by access key id, each with the wrapped value it came from: the store is
   * still read on every request (a deleted key fails at once), only the unwrap is skipped.
   */
  private readonly secrets = new Map<string, { wrapped: Buffer; secret: string }>();

  constructor(
    private readonly store: KeyStore,
    private readonly root: RootOfTrust,
  ) {}

  /** Creates an IAM-style user or role principal if it does not exist. */
  async ensurePrincipal(accountId: string, kind: "user" | "role", name: string): Promise<Principal> {
    const arn = `arn:aws:iam::${accountId}:${kind}/${name}`;
    const existing = await this.store.getPrincipal(arn);
    if (existing) return existing;
    const principal = { arn, accountId, principalId: `${kind === "user" ? "AIDA" : "AROA"}${randomBase32(17)}` };
    await this.store.putPrincipal(principal);
    return principal;
  }

  async issue(principal: Principal): Promise<IssuedAccessKey> {
    const accessKeyId = `AKIA${randomBase32(16)}`;
    const secretAccessKey = randomBytes(30).toString("base64");
    await this.store.createAccessKey({
      accessKeyId,
      principalArn: principal.arn,
      wrappedSecret: await this.root.wrap(Buffer.from(secretAccessKey, "utf8"), secretContext(accessKeyId)),
      createdAt: new Date(),
    });
    return { accessKeyId, secretAccessKey, principalArn: principal.arn };
  }

  /** The secret and identity behind an access key id, or undefined when it is unknown. */
  async lookup(accessKeyId: string): Promise<{ secret: string; identity: CallerIdentity } | undefined> {
    const accessKey = await this.store.getAccessKey(accessKeyId);
    if (!accessKey) return undefined;
    const principal = await this.store.getPrincipal(accessKey.principalArn);
    if (!principal) return undefined;
    const secret = await this.unwrapSecret(accessKeyId, accessKey.wrappedSecret);
    return {
      secret,
      identity: {
        principalArn: principal.arn,
        principalId: principal.principalId,
        accountId: principal.accountId,
        accessKeyId,
      },
    };
  }

  private async unwrapSecret(accessKeyId: string, wrapped: Buffer): Promise<string> {
    const known = this.secrets.get(accessKeyId);
    if (known?.wrapped.equals(wrapped)) return known.secret;
    const secret = (await this.root.unwrap(wrapped, secretContext(accessKeyId))).toString("utf8");
    if (this.secrets.size >= MAX_CACHED_SECRETS) this.secrets.delete(this.secrets.keys().next().value as string);
    this.secrets.set(accessKeyId, { wrapped: Buffer.from(wrapped), secret });
    return secret;
  }
}
