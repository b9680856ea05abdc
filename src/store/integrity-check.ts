import { createPublicKey } from "node:crypto";
import type { KeyState } from "@aws-sdk/client-kms";
import { AccessKeys } from "../auth/access-keys.js";
import { BackingKeys } from "../crypto/backing-keys.js";
import { asymmetricKeyFrom } from "../crypto/key-material.js";
import { isMultiRegionKeyId, type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import { KEY_SPECS, keySpecInfo } from "../domain/key-specs.js";
import { constraintsSupported, grantOperationsForKey, isGrantId } from "../policy/grants.js";
import { parsePolicyDocument } from "../policy/policy-document.js";
import { storedPurposeKeyProblems } from "../root/purpose-keys.js";
import { rootCheckMatches } from "../root/root-check.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import { checkCustomKeyStores, customKeyStoreKeyProblems } from "./custom-key-store-check.js";
import type { Alias, Grant, IntegrityScan, KeyStore, Page } from "./store.js";

export interface IntegrityReport {
  /** Each problem found, as one line naming the row it is in; empty when the store is healthy. */
  readonly problems: readonly string[];
  readonly checked: {
    keys: number;
    /** Backing-key versions unwrapped under the root of trust and parsed as their key spec's material. */
    keyMaterialVersions: number;
    aliases: number;
    grants: number;
    accessKeys: number;
    clientKeys: number;
  };
}

const PAGE_SIZE = 500;
/** The states Trent itself puts keys in. */
const TRENT_KEY_STATES: ReadonlySet<KeyState> = new Set<KeyState>([
  "Enabled",
  "Disabled",
  "PendingDeletion",
  "PendingReplicaDeletion",
  "PendingImport",
]);
/** What CreateAlias admits (see ops/alias-name.ts): AWS's pattern without ":", never under alias/aws/. */
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;

/** The private key each asymmetric spec holds, as Node describes it (SM2 keys have no Node type). */
const PRIVATE_KEY_SHAPE: Readonly<Record<string, { type: string; modulusLength?: number; namedCurve?: string }>> = {
  RSA_2048: { type: "rsa", modulusLength: 2048 },
  RSA_3072: { type: "rsa", modulusLength: 3072 },
  RSA_4096: { type: "rsa", modulusLength: 4096 },
  ECC_NIST_P256: { type: "ec", namedCurve: "prime256v1" },
  ECC_NIST_P384: { type: "ec", namedCurve: "secp384r1" },
  ECC_NIST_P521: { type: "ec", namedCurve: "secp521r1" },
  ECC_SECG_P256K1: { type: "ec", namedCurve: "secp256k1" },
  ECC_NIST_EDWARDS25519: { type: "ed25519" },
};

async function* everyItem<T>(list: (after: string | null) => Promise<Page<T>>): AsyncGenerator<T> {
  let after: string | null = null;
  do {
    const page: Page<T> = await list(after);
    yield* page.items;
    after = page.next;
  } while (after !== null);
}

/**
 * Checks a store as `trent check` does: the database's own checks, Trent's invariants between
 * rows (every key has each of its backing-key versions, aliases and grants point at keys that
 * exist, rotation records agree with the current version), and that every wrapped value opens
 * under `root` with the context it was bound to. Read-only; safe while Trent serves. A row that
 * looks wrong is read again before it is reported, so a change committed mid-check (a rotation,
 * a deletion) is not mistaken for damage.
 */
export async function checkIntegrity(store: KeyStore & IntegrityScan, root: RootOfTrust): Promise<IntegrityReport> {
  const problems: string[] = [];
  const checked = { keys: 0, keyMaterialVersions: 0, aliases: 0, grants: 0, accessKeys: 0, clientKeys: 0 };
  // A damaged database can fail the reads themselves: that is a finding too, and the other parts are still checked.
  const part = async (what: string, check: () => Promise<void>) => {
    try {
      await check();
    } catch (error) {
      problems.push(`reading ${what} failed: ${(error as Error).message}`);
    }
  };
  await part("the database's own checks", async () => {
    problems.push(...(await store.databaseProblems()));
  });
  await part("the store's meta data", async () => {
    problems.push(...(await metaProblems(store, root)));
  });
  await part("keys", () => checkKeys(store, root, problems, checked));
  await part("aliases", () => checkAliases(store, problems, checked));
  await part("grants", () => checkGrants(store, problems, checked));
  await part("access keys", () => checkAccessKeys(store, root, problems, checked));
  await part("client keys", () => checkClientKeys(store, problems, checked));
  await part("custom key stores", async () => {
    await checkCustomKeyStores(store, root, problems);
  });
  return { problems, checked };
}

type Counts = { -readonly [K in keyof IntegrityReport["checked"]]: number };

async function checkKeys(
  store: KeyStore & IntegrityScan,
  root: RootOfTrust,
  problems: string[],
  checked: Counts,
): Promise<void> {
  const backingKeys = new BackingKeys(store, root, 1);
  for await (const key of everyItem((after) => store.scanKeys(after, PAGE_SIZE))) {
    checked.keys++;
    let result = await checkKey(store, backingKeys, key);
    if (result.problems.length > 0) {
      const again = await store.getKey(storeKeyId(key));
      result = again === undefined ? { problems: [], versions: 0 } : await checkKey(store, backingKeys, again);
    }
    checked.keyMaterialVersions += result.versions;
    problems.push(...result.problems);
  }
}

async function checkAliases(store: KeyStore & IntegrityScan, problems: string[], checked: Counts): Promise<void> {
  for await (const alias of everyItem((after) => store.scanAliases(after, PAGE_SIZE))) {
    checked.aliases++;
    let found = await aliasProblems(store, alias);
    if (found.length > 0) {
      const again = await store.getAlias(alias.accountId, alias.region, alias.aliasName);
      found = again === undefined ? [] : await aliasProblems(store, again);
    }
    problems.push(...found);
  }
}

async function checkGrants(store: KeyStore & IntegrityScan, problems: string[], checked: Counts): Promise<void> {
  for await (const grant of everyItem((after) => store.scanGrants(after, PAGE_SIZE))) {
    checked.grants++;
    let found = await grantProblems(store, grant);
    if (found.length > 0) {
      const again = await store.getGrant(grant.grantId);
      found = again === undefined ? [] : await grantProblems(store, again);
    }
    problems.push(...found);
  }
}

async function checkAccessKeys(store: KeyStore, root: RootOfTrust, problems: string[], checked: Counts): Promise<void> {
  const accessKeys = new AccessKeys(store, root);
  for (const accessKey of await store.listAccessKeys(null)) {
    checked.accessKeys++;
    const where = `access key ${accessKey.accessKeyId}`;
    if ((await store.getPrincipal(accessKey.principalArn)) === undefined) {
      problems.push(`${where} belongs to ${accessKey.principalArn}, which does not exist`);
      continue;
    }
    try {
      await accessKeys.lookup(accessKey.accessKeyId);
    } catch (error) {
      if ((await store.getAccessKey(accessKey.accessKeyId)) === undefined) continue;
      problems.push(`${where}: its secret does not unwrap under the root key (${(error as Error).message})`);
    }
  }
}

async function checkClientKeys(store: KeyStore, problems: string[], checked: Counts): Promise<void> {
  for (const clientKey of await store.listClientKeys(null)) {
    checked.clientKeys++;
    const where = `client key ${clientKey.keyId}`;
    if ((await store.getPrincipal(clientKey.principalArn)) === undefined) {
      problems.push(`${where} belongs to ${clientKey.principalArn}, which does not exist`);
    }
    try {
      const publicKey = createPublicKey({ key: clientKey.publicKey, format: "der", type: "spki" });
      if (publicKey.asymmetricKeyType !== "rsa") problems.push(`${where}: its public key is not an RSA key`);
    } catch {
      problems.push(`${where}: its public key is not a DER SubjectPublicKeyInfo`);
    }
  }
}

async function metaProblems(store: KeyStore, root: RootOfTrust): Promise<string[]> {
  const problems: string[] = [];
  const accountId = await store.getMeta("account_id");
  if (accountId === undefined || !/^\d{12}$/.test(accountId)) {
    problems.push(`the store's account id is ${accountId === undefined ? "missing" : `not 12 digits: ${accountId}`}`);
  }
  const rootCheck = await store.getMeta("root_check");
  if (rootCheck === undefined) problems.push("the store has no root check (it was never opened by trent serve)");
  else if (!(await rootCheckMatches(root, rootCheck))) {
    problems.push("the root key is not the one this store was written under: nothing wrapped in it will open");
  }
  problems.push(...(await storedPurposeKeyProblems(store, root)));
  return problems;
}

async function checkKey(
  store: KeyStore,
  backingKeys: BackingKeys,
  key: KmsKey,
): Promise<{ problems: string[]; versions: number }> {
  const problems: string[] = [];
  const report = (problem: string) =>
    problems.push(`key ${key.keyId}${key.primaryRegion === undefined ? "" : ` (${key.region})`}: ${problem}`);
  const spec = KEY_SPECS[key.keySpec];
  if (spec === undefined) {
    report(`unknown key spec ${key.keySpec}`);
    return { problems, versions: 0 };
  }
  if (spec.usages[key.keyUsage] === undefined) report(`key usage ${key.keyUsage} is not valid for ${key.keySpec}`);
  if (!TRENT_KEY_STATES.has(key.keyState)) report(`key state ${key.keyState} is not one Trent sets`);
  if (key.keyState === "PendingImport" && key.origin !== "EXTERNAL")
    report("is PendingImport, but not of Origin EXTERNAL");
  const pendingDeletion = key.keyState === "PendingDeletion";
  if (pendingDeletion !== (key.deletionDate !== null)) {
    report(
      pendingDeletion ? "pending deletion without a deletion date" : "has a deletion date but is not pending deletion",
    );
  }
  if (key.keyState === "PendingReplicaDeletion" && key.pendingDeletionWindowInDays === null) {
    report("is pending replica deletion without a deletion window");
  }
  if ((key.rotationPeriodInDays === null) !== (key.nextRotationDate === null)) {
    report("has half an automatic rotation schedule (a period without a next date, or the reverse)");
  }
  const symmetric = key.keySpec === "SYMMETRIC_DEFAULT" && key.keyUsage === "ENCRYPT_DECRYPT";
  if (!(symmetric && key.origin === "AWS_KMS") && key.rotationPeriodInDays !== null)
    report("has automatic rotation on, but keys of its kind do not rotate");
  // Imported symmetric keys rotate on demand, to material imported for it (docs/byok.md).
  if (!(symmetric && (key.origin === "AWS_KMS" || key.origin === "EXTERNAL")) && key.currentVersion !== 1)
    report(`is at backing-key version ${key.currentVersion}, but does not rotate`);
  try {
    parsePolicyDocument(key.policy, "key");
  } catch (error) {
    report(`its key policy is not valid: ${(error as Error).message}`);
  }

  problems.push(...(await multiRegionProblems(store, key)));

  // A key in a custom key store lives in its token alone (docs/custom-key-stores.md).
  if (key.customKeyStoreId !== undefined || key.origin === "AWS_CLOUDHSM") {
    problems.push(...(await customKeyStoreKeyProblems(store, key)));
    return { problems, versions: 0 };
  }

  const versions = [];
  for await (const version of everyItem((after) =>
    store.listKeyMaterial(storeKeyId(key), after === null ? 0 : Number(after), PAGE_SIZE),
  )) {
    versions.push(version);
  }
  const numbers = versions.map((version) => version.version);
  if (key.origin === "EXTERNAL") {
    problems.push(
      ...(await importedMaterialProblems(store, key, numbers)).map((problem) => `key ${key.keyId}: ${problem}`),
    );
  } else if (numbers.length !== key.currentVersion || numbers.some((number, i) => number !== i + 1)) {
    report(`has backing-key versions [${numbers.join(", ")}], expected 1 to ${key.currentVersion}`);
  }
  for (const version of versions) {
    if (version.version > key.currentVersion) continue; // imported material waiting for RotateKeyOnDemand
    const firstVersion = version.version === 1;
    if (firstVersion !== (version.rotationType === null)) {
      report(
        firstVersion
          ? `its first backing-key version is marked as a ${version.rotationType} rotation`
          : `backing-key version ${version.version} does not say how it was rotated`,
      );
    }
  }
  const rotations =
    (await store.countRotations(storeKeyId(key), "AUTOMATIC")) +
    (await store.countRotations(storeKeyId(key), "ON_DEMAND"));
  if (rotations !== key.currentVersion - 1) {
    report(
      `has ${rotations} recorded rotations, but its current version ${key.currentVersion} needs ${key.currentVersion - 1}`,
    );
  }

  for (const { version } of versions) {
    let material: Buffer | undefined;
    try {
      material = await backingKeys.get(key, version);
    } catch (error) {
      report(`backing-key version ${version} does not unwrap under the root key (${(error as Error).message})`);
      continue;
    }
    if (material === undefined) continue;
    const problem = materialProblem(key, material);
    if (problem !== null) report(`backing-key version ${version} ${problem}`);
  }
  return { problems, versions: versions.length };
}

/**
 * A multi-Region key's copies (one row per region) must agree: one primary, in the region they all
 * name, the same shared properties and the very same wrapped material versions; only the primary
 * holds a rotation schedule, and only it waits in PendingReplicaDeletion. Checked from each row.
 */
async function multiRegionProblems(store: KeyStore, key: KmsKey): Promise<string[]> {
  const where = `key ${key.keyId}${key.primaryRegion === undefined ? "" : ` (${key.region})`}`;
  if (key.primaryRegion === undefined) {
    return isMultiRegionKeyId(key.keyId) ? [`${where}: has a multi-Region key id but is not multi-Region`] : [];
  }
  const problems: string[] = [];
  if (!/^mrk-[0-9a-f]{32}$/.test(key.keyId)) {
    problems.push(`${where}: is multi-Region but its id is not mrk- and 32 hex digits`);
  }
  const isPrimary = key.region === key.primaryRegion;
  if (!isPrimary && key.rotationPeriodInDays !== null) {
    problems.push(`${where}: a replica with its own rotation schedule`);
  }
  if (!isPrimary && key.keyState === "PendingReplicaDeletion") {
    problems.push(`${where}: a replica pending replica deletion`);
  }
  const copies = await store.multiRegionKeys(key.keyId);
  const primary = copies.find((copy) => copy.region === key.primaryRegion);
  if (primary === undefined) return [...problems, `${where}: its primary in ${key.primaryRegion} does not exist`];
  if (isPrimary && key.keyState === "PendingReplicaDeletion" && copies.length === 1) {
    problems.push(`${where}: pending replica deletion, but it has no replicas left`);
  }
  if (isPrimary) return problems;
  const shared = ["primaryRegion", "keySpec", "keyUsage", "origin", "accountId", "currentVersion"] as const;
  for (const property of shared) {
    if (key[property] !== primary[property]) {
      problems.push(`${where}: its ${property} ${key[property]} differs from its primary's, ${primary[property]}`);
    }
  }
  for (let version = 1; version <= Math.max(key.currentVersion, primary.currentVersion); version++) {
    const [own, primarys] = await Promise.all([
      store.getKeyMaterial(storeKeyId(key), version),
      store.getKeyMaterial(storeKeyId(primary), version),
    ]);
    // Copies of imported material are imported into each region on its own (fresh wraps, and a
    // copy may lack what another holds); ImportKeyMaterial only accepts the primary's material.
    if (key.origin === "EXTERNAL") continue;
    if (own === undefined || primarys === undefined || !own.equals(primarys)) {
      problems.push(`${where}: its backing-key version ${version} is not its primary's`);
    }
  }
  return problems;
}

/** AWS accepts imported HMAC material from the spec's length up to 64 bytes. */
const MAX_IMPORTED_HMAC_BYTES = 64;

/**
 * A key with imported material holds wrapped bytes exactly for the versions whose material is
 * imported (deleted and expired material is gone), and is PendingImport exactly while one of
 * its versions up to the current one is not imported (unless it is pending deletion).
 */
async function importedMaterialProblems(store: KeyStore, key: KmsKey, stored: readonly number[]): Promise<string[]> {
  const problems: string[] = [];
  const materials = await store.importedMaterial.listImportedKeyMaterial(storeKeyId(key));
  const imported = materials.filter((material) => material.imported).map((material) => material.version);
  if (stored.join() !== imported.join()) {
    problems.push(
      `holds backing-key versions [${stored.join(", ")}], but its imported material is [${imported.join(", ")}]`,
    );
  }
  const missing = [];
  for (let version = 1; version <= key.currentVersion; version++) {
    if (!imported.includes(version)) missing.push(version);
  }
  const pendingImport = key.keyState === "PendingImport";
  if (
    key.keyState !== "PendingDeletion" &&
    key.keyState !== "PendingReplicaDeletion" &&
    pendingImport !== missing.length > 0
  ) {
    problems.push(
      pendingImport
        ? "is PendingImport, but all its material is imported"
        : `is ${key.keyState}, but its material version ${missing.join(", ")} is not imported`,
    );
  }
  return problems;
}

/** Whether unwrapped material is what the key's spec holds: right length, or a private key of the right kind. */
function materialProblem(key: KmsKey, material: Buffer): string | null {
  const kind = keySpecInfo(key.keySpec).material;
  switch (kind.kind) {
    case "symmetric":
      return material.length === 32 ? null : `is ${material.length} bytes, not 32`;
    case "hmac":
      if (key.origin === "EXTERNAL") {
        return material.length >= kind.bytes && material.length <= MAX_IMPORTED_HMAC_BYTES
          ? null
          : `is ${material.length} bytes, not ${kind.bytes} to ${MAX_IMPORTED_HMAC_BYTES}`;
      }
      return material.length === kind.bytes ? null : `is ${material.length} bytes, not ${kind.bytes}`;
    case "ml-dsa":
      return material.length === 32 ? null : `is a ${material.length}-byte seed, not 32`;
    case "pkcs8": {
      let privateKey: ReturnType<typeof asymmetricKeyFrom>;
      try {
        privateKey = asymmetricKeyFrom(key.keySpec, material);
      } catch (error) {
        return `is not a usable ${key.keySpec} private key (${(error as Error).message})`;
      }
      const shape = PRIVATE_KEY_SHAPE[key.keySpec];
      if (shape === undefined || privateKey.kind !== "node") return null;
      const details = privateKey.privateKey.asymmetricKeyDetails ?? {};
      const matches =
        privateKey.privateKey.asymmetricKeyType === shape.type &&
        (shape.modulusLength === undefined || details.modulusLength === shape.modulusLength) &&
        (shape.namedCurve === undefined || details.namedCurve === shape.namedCurve);
      return matches ? null : `holds a private key of another kind than ${key.keySpec}`;
    }
  }
}

async function aliasProblems(store: KeyStore, alias: Alias): Promise<string[]> {
  const where = `alias ${alias.aliasName} (account ${alias.accountId}, ${alias.region})`;
  const problems: string[] = [];
  if (!ALIAS_NAME.test(alias.aliasName) || alias.aliasName.startsWith("alias/aws/")) {
    problems.push(`${where}: the name is not one CreateAlias accepts`);
  }
  const target = await store.getKey(storeKeyId({ keyId: alias.targetKeyId, region: alias.region }));
  if (target === undefined) problems.push(`${where} points at key ${alias.targetKeyId}, which does not exist`);
  else if (target.accountId !== alias.accountId || target.region !== alias.region) {
    problems.push(`${where} points at ${keyArn(target)}, in another account or region`);
  }
  return problems;
}

async function grantProblems(store: KeyStore, grant: Grant): Promise<string[]> {
  const where = `grant ${grant.grantId}`;
  const problems: string[] = [];
  if (!isGrantId(grant.grantId)) problems.push(`${where}: the id is not 64 lowercase hex digits`);
  const key = await store.getKey(grant.keyId);
  if (key === undefined) return [...problems, `${where} is for key ${grant.keyId}, which does not exist`];
  const allowed = grantOperationsForKey(key);
  const invalid = grant.operations.filter((operation) => !allowed.has(operation));
  if (grant.operations.length === 0) problems.push(`${where} allows no operations`);
  if (invalid.length > 0) problems.push(`${where} allows ${invalid.join(", ")}, not valid for key ${key.keyId}`);
  if (grant.constraints !== null && !constraintsSupported(key, grant.operations)) {
    problems.push(`${where} has encryption context constraints its operations cannot have`);
  }
  return problems;
}
