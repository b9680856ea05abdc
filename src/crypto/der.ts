/** The little of DER (X.690) that key handling needs: reading one element, writing one. */

export interface DerElement {
  readonly tag: number;
  /** Where the content starts and ends in the buffer read. */
  readonly start: number;
  readonly end: number;
}

/** The element at `offset`, or undefined when the bytes are not one that ends by `limit`. */
export function readDer(der: Uint8Array, offset: number, limit = der.length): DerElement | undefined {
  const tag = der[offset];
  let length = der[offset + 1];
  let start = offset + 2;
  if (tag === undefined || length === undefined) return undefined;
  if (length > 0x80 && length <= 0x82) {
    const size = length - 0x80;
    length = 0;
    for (let i = 0; i < size; i++) length = length * 256 + (der[start + i] ?? Number.NaN);
    // DER lengths are minimal: a long form that a shorter one could have written is not DER.
    if (length < (size === 1 ? 0x80 : 0x100)) return undefined;
    start += size;
  } else if (length >= 0x80) {
    return undefined;
  }
  const end = start + length;
  return Number.isNaN(end) || end > limit ? undefined : { tag, start, end };
}

/** The element with `tag` at `offset` inside `parent`, or undefined. */
export function readDerChild(der: Uint8Array, offset: number, parent: DerElement, tag: number): DerElement | undefined {
  const element = readDer(der, offset, parent.end);
  return element?.tag === tag ? element : undefined;
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  if (length < 0x100) return Buffer.of(0x81, length);
  if (length < 0x10000) return Buffer.of(0x82, length >> 8, length & 0xff);
  throw new RangeError("DER content longer than 65535 bytes");
}

export function derTlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(tag), derLength(content.length), content]);
}

/**
 * The private scalar of a PKCS#8 EC key (RFC 5915 ECPrivateKey inside PrivateKeyInfo). Read from
 * the DER because Node exports SM2 keys neither as JWK nor, once loaded from PKCS#8, as SEC1 (that
 * export aborts the process).
 */
export function ecPrivateScalar(pkcs8: Uint8Array): Buffer {
  const info = readDer(pkcs8, 0);
  const version = info && readDerChild(pkcs8, info.start, info, 0x02);
  const algorithm = version && info && readDerChild(pkcs8, version.end, info, 0x30);
  const wrapped = algorithm && info && readDerChild(pkcs8, algorithm.end, info, 0x04);
  const ecKey = wrapped && readDerChild(pkcs8, wrapped.start, wrapped, 0x30);
  const ecVersion = ecKey && readDerChild(pkcs8, ecKey.start, ecKey, 0x02);
  const scalar = ecVersion && ecKey && readDerChild(pkcs8, ecVersion.end, ecKey, 0x04);
  if (!scalar) throw new Error("not a PKCS#8 EC private key");
  return Buffer.from(pkcs8.subarray(scalar.start, scalar.end));
}
