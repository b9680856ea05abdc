/** What a KeyId parameter names, parsed as AWS reads it; resolution against the store is in ops/. */
export type KeyReference =
  | { readonly kind: "keyId"; readonly keyId: string }
  | { readonly kind: "keyArn"; readonly keyId: string; readonly region: string; readonly accountId: string }
  | { readonly kind: "aliasName"; readonly aliasName: string }
  | { readonly kind: "aliasArn"; readonly aliasName: string; readonly region: string; readonly accountId: string }
  | { readonly kind: "invalid" };

const KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KMS_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/;

export function parseKeyReference(value: string): KeyReference {
  if (KEY_ID.test(value)) return { kind: "keyId", keyId: value };
  if (value.startsWith("alias/")) return { kind: "aliasName", aliasName: value };
  const arn = KMS_ARN.exec(value);
  if (!arn) return { kind: "invalid" };
  const [, region, accountId, resource] = arn as unknown as [string, string, string, string];
  if (resource.startsWith("alias/")) return { kind: "aliasArn", aliasName: resource, region, accountId };
  const keyId = resource.slice("key/".length);
  return KEY_ID.test(keyId) ? { kind: "keyArn", keyId, region, accountId } : { kind: "invalid" };
}
