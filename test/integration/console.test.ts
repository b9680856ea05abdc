import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
} from "@aws-sdk/client-kms";
import { type Browser, chromium, type Page } from "playwright-core";
import { SOFTHSM_MODULES, TRUST_ANCHOR } from "../support/softhsm.js";
import { trentCli } from "./trent-cli.js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/**
 * The web console end to end, in Debian's headless Chromium against a real Trent: sign in, create
 * a key in the wizard, edit its policy so that a second user is denied, see that user denied, see
 * the denial in the audit view, schedule the key's deletion. Screenshots of the main pages go to
 * test-artifacts/console/ (docs/console/*.png are copied from there).
 *
 * It runs once, on SQLite: the console is a client of the API, which the other suites test on
 * both stores, and a browser costs the PostgreSQL run time it does not have.
 */
const CHROMIUM = process.env.TRENT_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/console/", import.meta.url));
const CONSOLE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));
const onPostgres = process.env.TRENT_TEST_STORE === "postgres";
const missingChromium = !existsSync(CHROMIUM);
if (missingChromium && process.env.CI) {
  throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's chromium package (scripts/test.sh does)`);
}
const SOFTHSM_MODULE = SOFTHSM_MODULES.find((path) => existsSync(path));
const STORE_PIN = "kmsuser-pin-1";
const skip = onPostgres
  ? "the console's browser tests run once, on SQLite"
  : missingChromium
    ? `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set TRENT_CHROMIUM)`
    : false;

describe("web console", { skip, timeout: 120_000 }, () => {
  let trent: TrentProcess;
  let browser: Browser;
  let page: Page;
  let bob: { accessKeyId: string; secretAccessKey: string; arn: string };
  let keyId: string;
  /** A SoftHSM2 token for the custom key store pages, when SoftHSM2 is installed. */
  let hsm: { dir: string; clusterId: string } | undefined;

  const admin = () => trent.credentials;
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function signIn(credentials: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
    await page.goto(`${trent.url}/console/`);
    await page.getByLabel("Access key ID").fill(credentials.accessKeyId);
    await page.getByLabel("Secret access key").fill(credentials.secretAccessKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  }

  async function signOut(): Promise<void> {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Trent" }).waitFor();
  }

  before(async () => {
    assert.ok(existsSync(join(CONSOLE_DIR, "index.html")), `the console is not built in ${CONSOLE_DIR}: npm run build`);
    mkdirSync(ARTIFACTS, { recursive: true });
    if (SOFTHSM_MODULE !== undefined) {
      const dir = mkdtempSync(join(tmpdir(), "trent-console-hsm-"));
      const conf = join(dir, "softhsm2.conf");
      writeFileSync(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\n`);
      // Trent and the CLI find the token through it.
      process.env.SOFTHSM2_CONF = conf;
      execFileSync(
        "softhsm2-util",
        ["--init-token", "--free", "--label", "console-store", "--pin", STORE_PIN, "--so-pin", "so-pin-12345"],
        { stdio: "ignore" },
      );
      const listed = await trentCli(["hsm", "list-clusters", "--pkcs11-module", SOFTHSM_MODULE]);
      assert.equal(listed.code, 0, listed.stderr);
      const clusters = (JSON.parse(listed.stdout) as { Clusters: { CloudHsmClusterId: string }[] }).Clusters;
      hsm = { dir, clusterId: clusters[0]?.CloudHsmClusterId as string };
    }
    trent = await startTrentProcess(SOFTHSM_MODULE === undefined ? [] : ["--pkcs11-module", SOFTHSM_MODULE]);
    const created = await trentCli(["access-key", "create", "--user", "bob", "--data", trent.dataDir, ...storeArgs()]);
    assert.equal(created.code, 0, created.stderr);
    const printed = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string; Arn: string };
    bob = { accessKeyId: printed.AccessKeyId, secretAccessKey: printed.SecretAccessKey, arn: printed.Arn };
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "kms:*", Resource: "*" }],
    });
    const attached = await trentCli([
      "identity-policy",
      "put",
      "--user",
      "bob",
      "--name",
      "kms-user",
      "--document",
      policy,
      "--data",
      trent.dataDir,
      ...storeArgs(),
    ]);
    assert.equal(attached.code, 0, attached.stderr);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await trent?.stop();
    if (hsm) rmSync(hsm.dir, { recursive: true, force: true });
  });

  function storeArgs(): string[] {
    return trent.storeUrl === undefined ? [] : ["--store", trent.storeUrl];
  }

  it("serves the console from Trent with a strict Content-Security-Policy, and / leads to it", async () => {
    const response = await fetch(`${trent.url}/console/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
    const html = await response.text();
    assert.doesNotMatch(html, /https?:\/\//, "the page names no external URL");
    assert.doesNotMatch(html, /<script>/, "no inline script");
    const root = await fetch(`${trent.url}/`, { redirect: "manual", headers: { accept: "text/html" } });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/console/");
    // Not a browser: the KMS edge's answer, as before the console.
    assert.equal((await fetch(`${trent.url}/`, { headers: { accept: "*/*" } })).status, 405);
  });

  it("serves nothing but its own files, with its headers on every answer, whatever the path", async () => {
    /** One request as written on the wire, so that no client tidies the path first. */
    const raw = (method: string, path: string) =>
      new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
        const { hostname, port } = new URL(trent.url);
        const socket = connect(Number(port), hostname, () => {
          socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
        });
        let text = "";
        socket.setEncoding("latin1");
        socket.on("data", (chunk) => {
          text += chunk;
        });
        socket.on("error", reject);
        socket.on("end", () => {
          const [head = "", body = ""] = text.split("\r\n\r\n");
          resolve({ status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body });
        });
      });
    for (const path of [
      "/console/../trent.db",
      "/console/..%2ftrent.db",
      "/console/%2e%2e/%2e%2e/etc/passwd",
      "/console/%2e%2e%2ftrent.db",
      "/console//etc/passwd",
      "/console/index.html%00.js",
      "/console/.%2e/root.key",
      `/console/${"a".repeat(6000)}`,
      "/console/__proto__",
      "/console/index.html/",
    ]) {
      const answer = await raw("GET", path);
      assert.ok(answer.status === 404 || answer.status === 400, `${path}: ${answer.status}`);
      assert.doesNotMatch(answer.body, /SQLite|root:x:0|BEGIN/, path);
      if (answer.status === 404) {
        assert.match(answer.headers, /content-security-policy: default-src 'self'/, path);
        assert.match(answer.headers, /x-content-type-options: nosniff/, path);
      }
    }
    const head = await raw("HEAD", "/console/");
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    assert.match(head.headers, /content-security-policy/);
    for (const method of ["PUT", "DELETE", "OPTIONS", "TRACE"]) {
      assert.equal((await raw(method, "/console/")).status, 405, method);
    }
  });

  it("signs in with the admin's access key and shows AWS's error for a wrong secret", async () => {
    await page.goto(`${trent.url}/console/`);
    await shot("sign-in");
    await page.getByLabel("Access key ID").fill(admin().accessKeyId);
    await page.getByLabel("Secret access key").fill("not-the-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "InvalidSignatureException" }).waitFor();
    await signIn(admin());
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: Object.keys(localStorage),
      cookies: document.cookie,
    }));
    assert.deepEqual(stored.local, []);
    assert.equal(stored.cookies, "");
    assert.equal(stored.session.length, 1);
  });

  it("creates a key in the wizard, with its alias, and opens its page", async () => {
    await page.getByRole("link", { name: "Create key" }).first().click();
    await page.getByRole("heading", { name: "Create key" }).waitFor();
    await page.getByLabel(/^Asymmetric/).check();
    await page.getByLabel("Sign and verify").check();
    await page.getByLabel("Key spec").selectOption("ECC_NIST_P256");
    await page.getByText("ECDSA_SHA_256").waitFor();
    await page.getByLabel(/^Symmetric/).check();
    await page.getByText("Algorithms this key will allow: SYMMETRIC_DEFAULT").waitFor();
    await shot("create-key");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByLabel("Alias (optional)").fill("alias/console-e2e");
    await page.getByLabel("Description (optional)").fill("made in the console test");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("button", { name: "Create key" }).click();
    await page.waitForURL(/#\/keys\/[0-9a-f-]{36}$/);
    keyId = decodeURIComponent(page.url().split("/").at(-1) as string);
    await page.getByText("alias/console-e2e").first().waitFor();
    await page.getByText("made in the console test").waitFor();
    await page.locator("#policy-text").waitFor();
    await shot("key");
    await page.getByRole("link", { name: "Keys", exact: true }).first().click();
    await page.getByRole("link", { name: keyId }).waitFor();
    await shot("keys");
  });

  it("validates the key policy as it is typed, shows PutKeyPolicy's error, and saves a policy denying bob", async () => {
    await page.goto(`${trent.url}/console/#/keys/${keyId}`);
    const editor = page.locator("#policy-text");
    const original = await editor.inputValue();
    await editor.fill('{\n  "Version": "2012-10-17",\n  "Statement": [\n    { "Effect": "Allow", }\n  ]\n}');
    await page.getByText(/Not valid JSON at line 4, column \d+/).waitFor();
    assert.equal(await page.getByRole("button", { name: "Save policy" }).isDisabled(), true);
    await editor.fill(JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Maybe", Action: "kms:*" }] }));
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByRole("alert").filter({ hasText: "MalformedPolicyDocumentException" }).waitFor();
    const policy = JSON.parse(original) as { Statement: unknown[] };
    policy.Statement.push({
      Sid: "DenyBob",
      Effect: "Deny",
      Principal: { AWS: bob.arn },
      Action: "kms:*",
      Resource: "*",
    });
    await editor.fill(JSON.stringify(policy, null, 2));
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("The key policy is saved.").waitFor();
  });

  it("shows bob the AccessDeniedException the new policy gives him", async () => {
    await signOut();
    await signIn(bob);
    await page.goto(`${trent.url}/console/#/keys/${keyId}`);
    const denied = page.getByRole("alert").filter({ hasText: "AccessDeniedException" });
    await denied.waitFor();
    assert.match((await denied.textContent()) ?? "", /user\/bob is not authorized to perform: kms:DescribeKey/);
    await signOut();
  });

  it("shows the admin bob's denial in the audit view, with its full record and a verified chain", async () => {
    await signIn(admin());
    await page.getByRole("link", { name: "Audit trail" }).click();
    await page.getByText(/Verified: every chain is intact/).waitFor();
    await page.getByLabel("Key ID or ARN").fill(keyId);
    await page.getByLabel("Outcome").selectOption("denied");
    await page.getByRole("button", { name: "Apply filters" }).click();
    const row = page.locator("tbody tr").filter({ hasText: "user/bob" }).first();
    await row.getByText("AccessDeniedException").waitFor();
    await page.getByLabel("Outcome").selectOption("");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.locator("tbody tr").filter({ hasText: "PutKeyPolicy" }).first().waitFor();
    await shot("audit");
    await page.getByLabel("Outcome").selectOption("denied");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await row.getByRole("button", { name: "DescribeKey" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText('"errorCode": "AccessDeniedException"').waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  it("encrypts and decrypts in Try it", async () => {
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    const other = await kms.send(new CreateKeyCommand({ Description: "for Try it" }));
    kms.destroy();
    await page.goto(`${trent.url}/console/#/try/${other.KeyMetadata?.KeyId}`);
    await page.getByText("SYMMETRIC_DEFAULT · ENCRYPT_DECRYPT · Enabled").waitFor();
    await page.getByLabel("Message (UTF-8 text)").fill("hello from the console");
    await page.getByRole("button", { name: "Encrypt", exact: true }).click();
    const ciphertext = (await page.locator("pre.output").first().textContent()) ?? "";
    assert.ok(ciphertext.length > 50);
    await shot("try-it");
    await page.getByLabel("Decrypt").check();
    await page.getByLabel("Ciphertext (base64)").fill(ciphertext);
    await page.getByRole("button", { name: "Decrypt", exact: true }).click();
    await page.locator("pre.output").getByText("hello from the console").waitFor();
  });

  it("imports key material into an EXTERNAL key, wrapped in the browser", async () => {
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    try {
      const external = await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL", Description: "imported" }));
      const externalId = external.KeyMetadata?.KeyId as string;
      await page.goto(`${trent.url}/console/#/keys/${externalId}`);
      await page.getByRole("heading", { name: "Import key material" }).waitFor();
      await page.getByText("No key material imported yet.").waitFor();
      await page.getByLabel("Wrapping algorithm").selectOption("RSAES_OAEP_SHA_1");
      await page.getByLabel("Wrapping key spec").selectOption("RSA_3072");
      await page.getByRole("button", { name: "Get wrapping key and import token" }).click();
      await page.getByText("-----BEGIN PUBLIC KEY-----", { exact: false }).waitFor();
      await page.getByText(/The import token expires/).waitFor();
      await page.getByLabel("Key material file").setInputFiles({
        name: "material.bin",
        mimeType: "application/octet-stream",
        buffer: randomBytes(32),
      });
      await page.getByLabel("Key material description (optional)").fill("from the console");
      await shot("import-key-material");
      await page.getByRole("button", { name: "Wrap and import" }).click();
      await page.getByText(/Key material \S+ is imported\./).waitFor();
      await page.locator(".title-row .state").getByText("Enabled").waitFor();
      await page.locator("tbody tr").filter({ hasText: "from the console" }).getByText("IMPORTED").waitFor();
      const encrypted = await kms.send(new EncryptCommand({ KeyId: externalId, Plaintext: Buffer.from("imported") }));
      assert.ok((encrypted.CiphertextBlob?.length ?? 0) > 32);
      const described = await kms.send(new DescribeKeyCommand({ KeyId: externalId }));
      assert.equal(described.KeyMetadata?.KeyState, "Enabled");
    } finally {
      kms.destroy();
    }
  });

  it("replicates a multi-Region key to another Region and opens the replica there", async () => {
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    const otherRegion = trent.region === "us-west-2" ? "eu-west-1" : "us-west-2";
    try {
      const primary = await kms.send(new CreateKeyCommand({ MultiRegion: true, Description: "multi-Region" }));
      const mrkId = primary.KeyMetadata?.KeyId as string;
      await page.goto(`${trent.url}/console/#/keys/${mrkId}`);
      await page.getByRole("heading", { name: "Multi-Region" }).waitFor();
      await page.getByRole("button", { name: "Replicate to region" }).click();
      const dialog = page.getByRole("dialog", { name: "Replicate this key" });
      await dialog.getByText("a key with the same key ID").waitFor();
      await dialog.getByLabel("Replica Region").fill(otherRegion);
      await dialog.getByLabel("Replica description (optional)").fill("the console's replica");
      await dialog.getByRole("button", { name: "Replicate key" }).click();
      await page.getByText(`Key ${mrkId} is replicated to ${otherRegion}`).waitFor();
      const remote = new KMSClient({ endpoint: trent.url, region: otherRegion, credentials: admin() });
      try {
        const replica = await remote.send(new DescribeKeyCommand({ KeyId: mrkId }));
        assert.equal(replica.KeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType, "REPLICA");
      } finally {
        remote.destroy();
      }
      await page.getByRole("button", { name: `Open in ${otherRegion}` }).click();
      await page.getByText("the console's replica").waitFor();
      assert.equal(await page.getByLabel("Region", { exact: true }).inputValue(), otherRegion);
      await page.getByRole("button", { name: "Make primary" }).waitFor();
      await page.getByLabel("Region", { exact: true }).fill(trent.region);
      await page.getByRole("button", { name: "Switch" }).click();
      await page.getByText("Multi-Region (PRIMARY)").waitFor();
    } finally {
      kms.destroy();
    }
  });

  it("lists custom key stores and shows CreateCustomKeyStore's error, forgetting the password", async () => {
    await page.getByRole("link", { name: "Key stores" }).click();
    await page.getByRole("heading", { name: "Custom key stores" }).waitFor();
    await page.getByText("No custom key stores.").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("console-store");
    await page.getByLabel("CloudHSM cluster ID").fill("cluster-1234567abcd");
    await page.getByLabel("Trust anchor certificate (PEM)").fill("not a certificate");
    await page.getByLabel("Key store password (kmsuser)").fill("kmsuser-secret");
    await page.getByRole("button", { name: "Create key store" }).click();
    await page.getByRole("alert").first().waitFor();
    assert.equal(await page.getByLabel("Key store password (kmsuser)").inputValue(), "");
    // The wizard's custom key store option sends Origin AWS_CLOUDHSM with the store's ID.
    await page.getByRole("link", { name: "Create key" }).first().click();
    await page.getByText("Advanced options").click();
    await page.getByLabel(/^Custom key store —/).check();
    await page.getByLabel("Custom key store ID").fill("cks-1234567890abcdef0");
    for (let step = 0; step < 3; step++) await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("AWS_CLOUDHSM (custom key store cks-1234567890abcdef0)").waitFor();
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("alert").filter({ hasText: "CustomKeyStoreNotFoundException" }).waitFor();
  });

  it("creates and connects a custom key store on a SoftHSM2 token, and creates a key in it", {
    skip: SOFTHSM_MODULE === undefined ? "SoftHSM2 is not installed" : false,
  }, async () => {
    const { clusterId } = hsm as { clusterId: string };
    await page.getByRole("link", { name: "Key stores" }).click();
    await page.getByLabel("Name", { exact: true }).fill("console-hsm");
    await page.getByLabel("CloudHSM cluster ID").fill(clusterId);
    await page.getByLabel("Trust anchor certificate (PEM)").fill(TRUST_ANCHOR);
    await page.getByLabel("Key store password (kmsuser)").fill(STORE_PIN);
    await page.getByRole("button", { name: "Create key store" }).click();
    const created = page.getByText(/Custom key store (cks-\S+) is created/);
    await created.waitFor();
    const storeId = /(cks-[0-9a-f]+)/.exec((await created.textContent()) ?? "")?.[1] as string;
    const row = page.locator("tbody tr").filter({ hasText: storeId });
    await row.getByText("DISCONNECTED").waitFor();
    await row.getByRole("button", { name: "Connect console-hsm" }).click();
    await page
      .getByRole("dialog", { name: "Connect the custom key store" })
      .getByRole("button", { name: "Connect" })
      .click();
    await row.getByText("CONNECTED", { exact: true }).waitFor();
    await page.getByRole("link", { name: "Create key" }).first().click();
    await page.getByText("Advanced options").click();
    await page.getByLabel(/^Custom key store —/).check();
    await page.getByLabel("Custom key store ID").fill(storeId);
    for (let step = 0; step < 3; step++) await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("button", { name: "Create key" }).click();
    await page.waitForURL(/#\/keys\/[0-9a-f-]{36}$/);
    await page.getByText("AWS_CLOUDHSM").first().waitFor();
    await page.locator(".title-row .state").getByText("Enabled").waitFor();
    const hsmKeyId = decodeURIComponent(page.url().split("/").at(-1) as string);
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    try {
      const described = await kms.send(new DescribeKeyCommand({ KeyId: hsmKeyId }));
      assert.equal(described.KeyMetadata?.CustomKeyStoreId, storeId);
      await kms.send(new EncryptCommand({ KeyId: hsmKeyId, Plaintext: Buffer.from("in the token") }));
    } finally {
      kms.destroy();
    }
    await page.getByRole("link", { name: "Key stores" }).click();
    await row.getByRole("button", { name: "Disconnect console-hsm" }).click();
    await page
      .getByRole("dialog", { name: "Disconnect the custom key store" })
      .getByRole("button", { name: "Disconnect" })
      .click();
    await row.getByText("DISCONNECTED").waitFor();
  });

  it("charts health and load from /metrics, live", async () => {
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    const other = await kms.send(new CreateKeyCommand({ Description: "load for the health page" }));
    let loading = true;
    const load = (async () => {
      while (loading) {
        await kms.send(new EncryptCommand({ KeyId: other.KeyMetadata?.KeyId, Plaintext: Buffer.from("load") }));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await page.getByRole("link", { name: "Health" }).click();
      await page.getByText("Database: ok").waitFor();
      const encryptRow = page.locator("tbody tr").filter({ hasText: /^Encrypt/ });
      await encryptRow.waitFor({ timeout: 15_000 });
      assert.doesNotMatch((await encryptRow.locator("td").nth(1).textContent()) ?? "", /^0\.00$/);
      await page.getByText(/All: (?!0\.00)\d/).waitFor();
      await page.waitForTimeout(3_500);
      await shot("health");
    } finally {
      loading = false;
      await load;
      kms.destroy();
    }
  });

  it("reaches the main actions with the keyboard alone", async () => {
    await page.goto(`${trent.url}/console/#/keys/${keyId}`);
    await page.reload();
    await page.locator("#policy-text").waitFor();
    const reached: string[] = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement?.textContent?.trim() ?? ""));
    }
    for (const name of [
      "Keys",
      "Create key",
      "Audit trail",
      "Sign out",
      "Disable",
      "Schedule key deletion",
      "Rotate now",
    ]) {
      assert.ok(reached.includes(name), `Tab reaches ${name}: ${reached.join(" | ")}`);
    }
  });

  it("schedules the key's deletion after a confirmation that says what it does", async () => {
    await page.getByRole("button", { name: "Schedule key deletion" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Schedule key deletion" });
    await dialog.getByText("Ciphertexts under it become undecryptable after that").waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Schedule key deletion" }).click();
    await dialog.getByLabel(/Waiting period/).fill("7");
    await dialog.getByText(`Schedule deletion of key ${keyId} in 7 days.`).waitFor();
    await dialog.getByRole("button", { name: "Schedule deletion" }).click();
    await page.getByText(`Key ${keyId} will be deleted in 7 days.`).waitFor();
    await page.locator(".title-row .state").getByText("PendingDeletion").waitFor();
    await page.getByRole("button", { name: "Cancel key deletion" }).waitFor();
  });

  it("shows markup in descriptions, tags and errors as text, never running it", async () => {
    const kms = new KMSClient({ endpoint: trent.url, region: trent.region, credentials: admin() });
    const hostile = await kms.send(
      new CreateKeyCommand({
        Description: `<img src=x onerror="window.__xss='description'">`,
        Tags: [{ TagKey: "<b>key</b>", TagValue: `<script>window.__xss='tag'</script>` }],
      }),
    );
    const hostileId = hostile.KeyMetadata?.KeyId as string;
    await kms.send(new CreateAliasCommand({ AliasName: "alias/<svg-onload>", TargetKeyId: hostileId })).catch(() => {
      // Not a valid alias name: fine, the others carry the markup.
    });
    kms.destroy();
    await page.goto(`${trent.url}/console/#/keys/${hostileId}`);
    await page.getByText(`<img src=x onerror="window.__xss='description'">`).first().waitFor();
    await page.getByText(`<script>window.__xss='tag'</script>`).first().waitFor();
    await page.goto(`${trent.url}/console/#/keys/${encodeURIComponent(`<img src=y onerror="window.__xss='error'">`)}`);
    await page.getByRole("alert").first().waitFor();
    await page.goto(`${trent.url}/console/#/audit`);
    await page.getByLabel("Outcome").waitFor();
    // A malformed escape in the address, loaded afresh: the console still starts.
    await page.goto(`${trent.url}/console/#/keys/%E0%A4%A`);
    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
    assert.equal(await page.locator("img[src=x], img[src=y], main script").count(), 0);
  });

  it("counts each request as activity, without a reload", async () => {
    const lastActive = () =>
      page.evaluate(() => {
        const key = Object.keys(sessionStorage)[0] as string;
        return JSON.parse(sessionStorage.getItem(key) as string).lastActiveAt as number;
      });
    await page.goto(`${trent.url}/console/#/keys`);
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    const idleSince = Date.now() - 59 * 60 * 1000;
    await page.evaluate((since) => {
      const key = Object.keys(sessionStorage)[0] as string;
      const session = JSON.parse(sessionStorage.getItem(key) as string);
      session.lastActiveAt = since;
      sessionStorage.setItem(key, JSON.stringify(session));
    }, idleSince);
    await page.getByRole("link", { name: "Create key" }).first().click();
    await page.getByRole("link", { name: "Keys", exact: true }).first().click();
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    await page.waitForFunction((since) => {
      const key = Object.keys(sessionStorage)[0] as string;
      return JSON.parse(sessionStorage.getItem(key) as string).lastActiveAt > since;
    }, idleSince);
    assert.ok((await lastActive()) > Date.now() - 60_000);
  });

  it("signs out when the session has been idle for an hour", async () => {
    await page.evaluate(() => {
      const key = Object.keys(sessionStorage)[0] as string;
      const session = JSON.parse(sessionStorage.getItem(key) as string);
      session.lastActiveAt = Date.now() - 61 * 60 * 1000;
      sessionStorage.setItem(key, JSON.stringify(session));
    });
    await page.reload();
    await page.getByText(/expired after an hour without activity/).waitFor();
    await page.getByRole("heading", { name: "Sign in to Trent" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  it("is switched off by --no-console", async () => {
    const off = await startTrentProcess(["--no-console"]);
    try {
      assert.equal((await fetch(`${off.url}/console/`)).status, 404);
      assert.equal((await fetch(`${off.url}/`, { headers: { accept: "text/html" } })).status, 404);
      assert.equal((await fetch(`${off.url}/health`)).status, 200);
    } finally {
      await off.stop();
    }
  });
});
