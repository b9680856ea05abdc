import kmsModel from "./kms-model.json" with { type: "json" };

interface ShapeRef {
  shape: string;
}

interface Shape {
  type: string;
  members?: Record<string, ShapeRef>;
  member?: ShapeRef;
  value?: ShapeRef;
  sensitive?: boolean;
}

const shapes = kmsModel.shapes as unknown as Record<string, Shape>;

/**
 * Blobs of CiphertextType that are left out, not hashed: signatures and MACs are not ciphertexts,
 * and imported key material is a secret however it is wrapped (the ImportToken is hashed).
 */
const NOT_CIPHERTEXTS = new Set(["Signature", "Mac", "EncryptedKeyMaterial"]);
const OMIT = Symbol("omit");

type Hash = (value: Uint8Array | string) => string;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * A request or response as the audit record shows it, walked along the service model's shapes:
 * members in CloudTrail's lowerCamelCase; plaintexts, private keys, messages, MACs, signatures,
 * public keys and attestation documents left out; ciphertexts and grant tokens replaced by a
 * keyed hash, so records correlate but never carry a usable value.
 */
export function auditView(shapeName: string | null, value: unknown, hash: Hash): Record<string, unknown> | null {
  if (shapeName === null || value === undefined || value === null) return null;
  const view = redact(shapeName, "", value, hash);
  return view === OMIT ? null : (view as Record<string, unknown>);
}

function redact(shapeName: string, memberName: string, value: unknown, hash: Hash): unknown {
  const shape = shapes[shapeName];
  if (shape === undefined || value === undefined || value === null) return OMIT;
  if (shape.sensitive) return OMIT;
  switch (shape.type) {
    case "structure": {
      if (typeof value !== "object") return OMIT;
      const out: Record<string, unknown> = {};
      for (const [member, ref] of Object.entries(shape.members ?? {})) {
        const item = redact(ref.shape, member, (value as Record<string, unknown>)[member], hash);
        if (item !== OMIT) out[lowerFirst(member)] = item;
      }
      return out;
    }
    case "list": {
      if (!Array.isArray(value) || shape.member === undefined) return OMIT;
      const memberShape = shape.member.shape;
      return value.map((item) => redact(memberShape, memberName, item, hash)).filter((item) => item !== OMIT);
    }
    case "map": {
      if (typeof value !== "object" || shape.value === undefined) return OMIT;
      const valueShape = shape.value.shape;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const redacted = redact(valueShape, key, item, hash);
        if (redacted !== OMIT) out[key] = redacted;
      }
      return out;
    }
    case "blob":
      return shapeName === "CiphertextType" && !NOT_CIPHERTEXTS.has(memberName) && value instanceof Uint8Array
        ? hash(value)
        : OMIT;
    case "string":
      return shapeName === "GrantTokenType" && typeof value === "string" ? hash(value) : value;
    case "timestamp":
      return value instanceof Date ? value.toISOString() : value;
    default:
      return value;
  }
}
