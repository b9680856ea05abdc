/**
 * The root of trust protects everything Trent stores: backing keys and access-key secrets are
 * kept only wrapped under it. `context` is bound as associated data, so a wrapped value moved
 * to another row (another key id, another version) fails to unwrap.
 */
export interface RootOfTrust {
  wrap(plaintext: Buffer, context: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, context: string): Promise<Buffer>;
  /** A key for a named purpose (e.g. audit sealing), derived from the root and never stored. */
  deriveKey(purpose: string): Promise<Buffer>;
}
