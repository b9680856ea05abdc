/** Encryption context as KMS defines it: string pairs, bound as authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * A canonical byte encoding of a context, independent of the order the pairs arrived in and
 * exact to the byte (case-sensitive): pairs sorted by key, each length-prefixed.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).map(
    ([key, value]) => [Buffer.from(key, "utf8"), Buffer.from(value, "utf8")] as const,
  );
  entries.sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [key, value] of entries) parts.push(u32(key.length), key, u32(value.length), value);
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}
