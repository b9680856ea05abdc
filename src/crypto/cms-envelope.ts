import { constants, createCipheriv, createHash, type KeyObject, publicEncrypt, randomBytes } from "node:crypto";
import { derTlv } from "./der.js";

/**
 * CMS EnvelopedData (RFC 5652) for `CiphertextForRecipient`, in the BER layout AWS KMS emits (see
 * the real KMS outputs in shared/nitro-fixtures): indefinite-length ContentInfo, [0], EnvelopedData,
 * EncryptedContentInfo and encryptedContent; definite-length RecipientInfos; the content as
 * 1000-byte OCTET STRING chunks. Enclave SDKs parse exactly this shape, so it is reproduced byte
 * for byte apart from the random and key-dependent parts.
 */

const ID_ENVELOPED_DATA = Buffer.from("06092a864886f70d010703", "hex");
const ID_DATA = Buffer.from("06092a864886f70d010701", "hex");
const AES_256_CBC = Buffer.from("060960864801650304012a", "hex");
// RSAES-OAEP with SHA-256 and MGF1-SHA-256, pSourceFunc absent (default), as KMS writes it.
const RSAES_OAEP_SHA256 = Buffer.from(
  "303c06092a864886f70d010107302fa00f300d06096086480165030402010500" +
    "a11c301a06092a864886f70d010108300d06096086480165030402010500",
  "hex",
);
const CHUNK_BYTES = 1000;
const INDEFINITE = 0x80;
const END_OF_CONTENTS = Buffer.of(0, 0);

function indefinite(tag: number, ...content: Buffer[]): Buffer {
  return Buffer.concat([Buffer.of(tag, INDEFINITE), ...content, END_OF_CONTENTS]);
}

/** Encrypts `plaintext` to the RSA `recipientPublicKey` the way KMS answers a `Recipient`. */
export function envelopeForRecipient(plaintext: Uint8Array, recipientPublicKey: KeyObject): Buffer {
  if (recipientPublicKey.type !== "public" || recipientPublicKey.asymmetricKeyType !== "rsa") {
    throw new TypeError("the recipient key must be an RSA public key");
  }
  const contentKey = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", contentKey, iv);
  const encryptedContent = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const encryptedKey = publicEncrypt(
    { key: recipientPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    contentKey,
  );
  contentKey.fill(0);

  // KMS's 32-byte subjectKeyIdentifier; SHA-256 of the SPKI is the natural reading (see report).
  const spki = recipientPublicKey.export({ type: "spki", format: "der" });
  const subjectKeyIdentifier = createHash("sha256").update(spki).digest();

  const keyTransRecipientInfo = derTlv(
    0x30,
    Buffer.concat([
      Buffer.of(0x02, 0x01, 0x02),
      derTlv(0x80, subjectKeyIdentifier),
      RSAES_OAEP_SHA256,
      derTlv(0x04, encryptedKey),
    ]),
  );
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < encryptedContent.length; offset += CHUNK_BYTES) {
    chunks.push(derTlv(0x04, encryptedContent.subarray(offset, offset + CHUNK_BYTES)));
  }
  const encryptedContentInfo = indefinite(
    0x30,
    ID_DATA,
    derTlv(0x30, Buffer.concat([AES_256_CBC, derTlv(0x04, iv)])),
    indefinite(0xa0, ...chunks),
  );
  const envelopedData = indefinite(
    0x30,
    Buffer.of(0x02, 0x01, 0x02),
    derTlv(0x31, keyTransRecipientInfo),
    encryptedContentInfo,
  );
  return indefinite(0x30, ID_ENVELOPED_DATA, indefinite(0xa0, envelopedData));
}
