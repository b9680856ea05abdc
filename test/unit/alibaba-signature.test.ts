import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { describe, test } from "node:test";
import { contentSha256, stringToSign, verifyAuthorization } from "../../src/protocol/alibaba/signature.js";

// The worked example of the dkms-gcs SDKs' request: EncryptRequest{KeyId:"key-123", Plaintext:"hello"}.
const BODY = Buffer.from("0a076b65792d313233120568656c6c6f", "hex");
const HEADERS = {
  accept: "application/x-protobuf",
  host: "kst-test.cryptoservice.kms.aliyuncs.com",
  date: "Thu, 01 Feb 2024 08:00:00 GMT",
  "user-agent": "AlibabaCloud (linux; amd64) Golang/1.21 Core/0.01 TeaDSL/1",
  "x-kms-apiversion": "dkms-gcs-0.2",
  "x-kms-apiname": "Encrypt",
  "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
  "x-kms-acccesskeyid": "KAAP.2bc431c0-416f-4ccb-8638-e71245fd60c1",
  "content-type": "application/x-protobuf",
  "content-length": "16",
  "content-sha256": "DDA10180F50CEC96A3904173F97AA50423C1C0C64F104F8740E12F6912B63ADB",
};
// Written by hand from openapi-util GetStringToSign: four lines, the sorted x-kms-* headers, then "/".
const EXPECTED =
  "POST\n" +
  "DDA10180F50CEC96A3904173F97AA50423C1C0C64F104F8740E12F6912B63ADB\n" +
  "application/x-protobuf\n" +
  "Thu, 01 Feb 2024 08:00:00 GMT\n" +
  "x-kms-acccesskeyid:KAAP.2bc431c0-416f-4ccb-8638-e71245fd60c1\n" +
  "x-kms-apiname:Encrypt\n" +
  "x-kms-apiversion:dkms-gcs-0.2\n" +
  "x-kms-signaturemethod:RSA_PKCS1_SHA_256\n" +
  "/";

// A fixed RSA key and the signature `openssl dgst -sha256 -sign` made over EXPECTED with its private half.
const OPENSSL_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA62Dfznwp4VmKKMon0GYE
SlK36cFihVyCsaE90Ya2LsLCnZGjGgvWYSH5RWVVtNYc14cAqskEGQRKyw0RRpEj
MHltSjf/CCT9KeknWoHFYps4H0A/PS1lBg53F7mctoedImez/xXfvVdKgQmBHchl
hoZr2C9VoGkz76CW9QZPPD+EOLwNxcn/IcApKm9GkRZZN4fbBTKUJjAalbeAMCwj
gDj0KVKe2BcOe+n3Q391ViGr+RhzLFIYd5FqCxDf+d4X6+U/2CIajoPOQ7uzeG27
3Tz9PQEghKsehBtlxTgKWwO4WMuFQr2ek76Uc7tV7H/dKq9kNXpHdGHMy5EO8rAf
VwIDAQAB
-----END PUBLIC KEY-----`;
const OPENSSL_SIGNATURE =
  "Uc2WTDeaPqEmrG3C0DLVWcExHFtEC5NU1SBa+r4tqRfos5XtwmL14avMJcxLbKTdpPNDCrjDQO9OHyNpnyUlrCJUmWWJQfAXEnZ7" +
  "dj4e4knykoiM/0rLFVPmK3ZMMZv64hGXqtNu+qm/yQTL+OQKH90pFbALW68YIOU91MwoMypVz2oOPzrM+bVYB+17DXNJA/maGA1d" +
  "Ywdllm3VqPZaji4gEETOClML7jH09VDryfVaJFqQgjcrLK1MCHB5S7YSju3ltlfRl2GEmjNtUWMMVodc2zTyOdvuOvObEo5/GWMj" +
  "32I1m+ggmEqfjs2RZzORqNZE04Wj2EzsygL1Szgd5g==";

describe("Alibaba instance API string-to-sign", () => {
  test("matches the SDK's construction for the worked example", () => {
    assert.equal(stringToSign("POST", HEADERS, "/"), EXPECTED);
  });

  test("content-sha256 is the upper-case hex SHA-256 of the body", () => {
    assert.equal(contentSha256(BODY), HEADERS["content-sha256"]);
    assert.equal(contentSha256(Buffer.alloc(0)), "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
  });

  test("header names are case-insensitive, values trimmed, extra x-kms-* headers signed in order", () => {
    const headers = {
      "X-Kms-Signaturemethod": "RSA_PKCS1_SHA_256",
      "X-Kms-Apiname": " Decrypt ",
      "x-kms-zz-extra": "last",
      "x-kms-aa-extra": "first",
      "Content-Sha256": "ABC",
      Date: "Fri, 02 Feb 2024 09:00:00 GMT",
      Authorization: "Bearer AAAA",
    };
    assert.equal(
      stringToSign("POST", headers, "/"),
      "POST\nABC\n\nFri, 02 Feb 2024 09:00:00 GMT\n" +
        "x-kms-aa-extra:first\nx-kms-apiname:Decrypt\nx-kms-signaturemethod:RSA_PKCS1_SHA_256\nx-kms-zz-extra:last\n/",
    );
  });
});

describe("Alibaba instance API signature", () => {
  test("verifies the signature openssl made over the worked example", () => {
    const publicKey = createPublicKey(OPENSSL_PUBLIC_KEY);
    assert.equal(verifyAuthorization(publicKey, EXPECTED, `Bearer ${OPENSSL_SIGNATURE}`), true);
    assert.equal(
      verifyAuthorization(publicKey, EXPECTED.replace("Encrypt", "Decrypt"), `Bearer ${OPENSSL_SIGNATURE}`),
      false,
    );
  });

  test("round trips with a generated key, and refuses every altered part", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const toSign = stringToSign("POST", HEADERS, "/");
    const signature = sign("sha256", Buffer.from(toSign, "utf8"), privateKey).toString("base64");
    assert.equal(verifyAuthorization(publicKey, toSign, `Bearer ${signature}`), true);
    assert.equal(verifyAuthorization(other.publicKey, toSign, `Bearer ${signature}`), false);
    assert.equal(verifyAuthorization(publicKey, `${toSign} `, `Bearer ${signature}`), false);
    assert.equal(verifyAuthorization(publicKey, toSign, signature), false);
    assert.equal(verifyAuthorization(publicKey, toSign, `Basic ${signature}`), false);
    assert.equal(verifyAuthorization(publicKey, toSign, "Bearer "), false);
    assert.equal(verifyAuthorization(publicKey, toSign, `Bearer ${signature.slice(1)}`), false);
    assert.equal(verifyAuthorization(publicKey, toSign, `Bearer ${signature}!`), false);
  });

  test("a non-RSA key never verifies", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signature = sign("sha256", Buffer.from(EXPECTED, "utf8"), privateKey).toString("base64");
    assert.equal(verifyAuthorization(publicKey, EXPECTED, `Bearer ${signature}`), false);
  });
});
