import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

/** scripts/softhsm-test-token.mjs's exit status when SoftHSM2 is not installed. */
const NOT_INSTALLED = 3;

/** Where Debian's softhsm2 package puts the PKCS#11 module. */
export const SOFTHSM_MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

// A throwaway self-signed certificate: Trent keeps a custom key store's trust anchor and checks only that it is one.
export const TRUST_ANCHOR = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUYFeNoOWxl1fQrTI+GQnU8TbeLd4wCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKY3VzdG9tZXJDQTAeFw0yNjExMjYwMTI3MzRaFw0zNjExMjMw
MTI3MzRaMBUxEzARBgNVBAMMCmN1c3RvbWVyQ0EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQNtbpCvhO5xieKsGBKNbwpWx2nPOMsJJoZJ56juz/et+x6IHePWm/C
I91buMdQEhsPLuF/JgK57QLR0xZvSod3o1MwUTAdBgNVHQ4EFgQUr4sAgHHk+G76
FPoUqc6c5HNEbT8wHwYDVR0jBBgwFoAUr4sAgHHk+G76FPoUqc6c5HNEbT8wDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAy2aB71UshY0GrW1xBFq4
+QbQ3swbawqHI55J9/WYT0sCIEybxqU066viES3tyDecC+kLXmovR8/gVMMFwgm0
yGyR
-----END CERTIFICATE-----
`;

/**
 * A throwaway SoftHSM2 token for tests that load the module in this process; undefined (the
 * tests skip) when SoftHSM2 is missing outside CI.
 */
export function makeTestToken(
  label: string,
): { modulePath: string; dir: string; tokenLabel: string; pin: string } | undefined {
  const made = spawnSync("node", ["scripts/softhsm-test-token.mjs", "create", label], { encoding: "utf8" });
  if (made.status === NOT_INSTALLED && !process.env.CI) return undefined;
  assert.equal(made.status, 0, made.stderr);
  const token = JSON.parse(made.stdout);
  // Cryptoki reads the configuration once per process: before the module is first loaded.
  process.env.SOFTHSM2_CONF = token.conf;
  return token;
}
