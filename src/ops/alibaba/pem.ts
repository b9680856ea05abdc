/** RFC 7468 text encoding of a DER structure, with the label OpenSSL and the SDKs' examples expect. */
export function pemOf(der: Uint8Array, label: "PUBLIC KEY" | "PRIVATE KEY"): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
