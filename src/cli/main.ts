#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { ClientKeys, writePrivateFile } from "../auth/client-keys.js";
import { DATA_KEY_PAIR_SPECS, type DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { parsePolicyDocument } from "../policy/policy-document.js";
import { quotaSettingsOf } from "../quota/quota-settings.js";
import { isClusterWorker, startCluster, startClusterWorker } from "../server/cluster.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, exitOnStopSignals } from "../server/graceful-stop.js";
import { DEFAULT_HTTP_OPTIONS } from "../server/http-server.js";
import {
  type AuditSinkKind,
  type DataDirectory,
  openDataDirectory,
  startTrent,
  type TrentConfig,
  writeCredentialsFile,
} from "../server/trent.js";
import type { Principal } from "../store/store.js";
import { addAuditCommands } from "./audit-commands.js";
import { addBackupCommands } from "./backup-commands.js";
import { addCheckCommand } from "./check-command.js";
import { addHsmCommands } from "./hsm-commands.js";
import { addRootCommands, addRootOptions, rootConfigFrom } from "./root-commands.js";

const DEFAULT_POOL_DEPTH: Record<DataKeyPairSpec, number> = Object.fromEntries(
  DATA_KEY_PAIR_SPECS.map((spec) => [spec, spec.startsWith("RSA_") ? 2 : 8]),
) as Record<DataKeyPairSpec, number>;

function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new InvalidArgumentError("expected HOST:PORT, e.g. 127.0.0.1:8080");
  return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port };
}

/** `N` sets every spec; `SPEC=N,SPEC=N` sets some and keeps the defaults for the rest. */
function parsePoolDepth(value: string): Record<DataKeyPairSpec, number> {
  if (/^\d+$/.test(value)) {
    return Object.fromEntries(DATA_KEY_PAIR_SPECS.map((spec) => [spec, Number(value)])) as Record<
      DataKeyPairSpec,
      number
    >;
  }
  const depth = { ...DEFAULT_POOL_DEPTH };
  for (const entry of value.split(",")) {
    const [spec, count] = entry.split("=");
    if (!DATA_KEY_PAIR_SPECS.includes(spec as DataKeyPairSpec) || !/^\d+$/.test(count ?? "")) {
      throw new InvalidArgumentError(`expected N or SPEC=N,... with SPEC one of ${DATA_KEY_PAIR_SPECS.join(", ")}`);
    }
    depth[spec as DataKeyPairSpec] = Number(count);
  }
  return depth;
}

function parsePositiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

/** `auto` is one process per core. */
function parseWorkers(value: string): number {
  return value === "auto" ? availableParallelism() : parsePositiveInt(value);
}

function parseAccountId(value: string): string {
  if (!/^\d{12}$/.test(value)) throw new InvalidArgumentError("expected a 12-digit account id");
  return value;
}

const dataOption = () => new Option("--data <dir>", "data directory").env("TRENT_DATA").default(".trent");
const storeOption = () =>
  new Option("--store <url>", "postgres://user:password@host:port/db for several nodes; default: SQLite in --data").env(
    "TRENT_STORE",
  );
const rootKeyOption = () =>
  new Option("--root-key <base64>", "root key (32 bytes, base64) instead of <data>/root.key").env("TRENT_ROOT_KEY");

// Everything Trent writes (root key, database, credentials) is for its own user only.
process.umask(0o077);

const program = new Command("trent").description("A key management service that speaks the AWS KMS API");

program
  .command("serve")
  .description("start the service")
  .addOption(
    new Option("--listen <host:port>", "address to listen on")
      .env("TRENT_LISTEN")
      .default("127.0.0.1:8080")
      .argParser(parseListen),
  )
  .addOption(
    new Option("--listen-tls <host:port>", "also serve HTTPS here (both edges)")
      .env("TRENT_LISTEN_TLS")
      .argParser(parseListen),
  )
  .addOption(
    new Option(
      "--tls-cert <file>",
      "PEM certificate for --listen-tls; default: issued by Trent's own CA (<data>/ca.pem)",
    ).env("TRENT_TLS_CERT"),
  )
  .addOption(new Option("--tls-key <file>", "PEM private key of --tls-cert").env("TRENT_TLS_KEY"))
  .addOption(
    new Option("--tls-host-names <names>", "comma-separated host names the self-issued certificate also names")
      .env("TRENT_TLS_HOST_NAMES")
      .default(""),
  )
  .addOption(dataOption())
  .addOption(storeOption())
  .addOption(rootKeyOption())
  .addOption(
    new Option("--account-id <id>", "12-digit account id, used when the data directory is created")
      .env("TRENT_ACCOUNT_ID")
      .argParser(parseAccountId),
  )
  .addOption(
    new Option("--region <region>", "region written to the admin credentials file")
      .env("TRENT_REGION")
      .default("us-east-1"),
  )
  .addOption(
    new Option("--key-pair-pool <depth>", "pre-generated data key pairs kept per spec: N, or SPEC=N,...")
      .env("TRENT_KEY_PAIR_POOL")
      .argParser(parsePoolDepth),
  )
  .addOption(
    new Option("--key-pair-workers <n>", "worker threads refilling the key pair pool")
      .env("TRENT_KEY_PAIR_WORKERS")
      .default(1)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--workers <n>", "processes serving requests on this node: N, or auto for one per core")
      .env("TRENT_WORKERS")
      .default(1)
      .argParser(parseWorkers),
  )
  .addOption(
    new Option(
      "--attestation-roots <file>",
      "PEM certificates trusted for Recipient attestation documents; default: the AWS Nitro Enclaves root",
    ).env("TRENT_ATTESTATION_ROOTS"),
  )
  .addOption(
    new Option("--attestation-max-age <seconds>", "how old a Recipient's attestation document may be")
      .env("TRENT_ATTESTATION_MAX_AGE")
      .default(300)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--alibaba-max-concurrency <n>", "Alibaba instance-API requests in flight at once; more get HTTP 429")
      .env("TRENT_ALIBABA_MAX_CONCURRENCY")
      .default(256)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option(
      "--header-timeout <seconds>",
      "time for a request's headers to arrive; then HTTP 408 and the connection closes",
    )
      .env("TRENT_HEADER_TIMEOUT")
      .default(DEFAULT_HTTP_OPTIONS.headersTimeoutMs / 1000)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--body-timeout <seconds>", "time for a request's body to arrive after its headers; then HTTP 408")
      .env("TRENT_BODY_TIMEOUT")
      .default(DEFAULT_HTTP_OPTIONS.bodyTimeoutMs / 1000)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--keep-alive-timeout <seconds>", "how long an idle kept-alive connection stays open")
      .env("TRENT_KEEP_ALIVE_TIMEOUT")
      .default(DEFAULT_HTTP_OPTIONS.keepAliveTimeoutMs / 1000)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--max-connections <n>", "connections open at once per listener and process; more are closed at once")
      .env("TRENT_MAX_CONNECTIONS")
      .default(DEFAULT_HTTP_OPTIONS.maxConnections)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--max-body-bytes <n>", "largest AWS-edge request body; larger ones get HTTP 413 (Alibaba edge: 3 MiB)")
      .env("TRENT_MAX_BODY_BYTES")
      .default(DEFAULT_HTTP_OPTIONS.maxBodyBytes)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--audit-sink <sinks>", "where the audit trail goes: file, stdout, file,stdout, or none")
      .env("TRENT_AUDIT_SINK")
      .default("file")
      .argParser(parseAuditSinks),
  )
  .addOption(
    new Option("--audit-dir <dir>", "directory of the audit chain files (default: <data>/audit)").env(
      "TRENT_AUDIT_DIR",
    ),
  )
  .addOption(
    new Option("--audit-fsync <policy>", "always: answer only once the record is on disk; interval: fsync each second")
      .env("TRENT_AUDIT_FSYNC")
      .choices(["always", "interval", "never"])
      .default("always"),
  )
  .addOption(
    new Option("--audit-seal-interval <seconds>", "how often the chain is sealed with a MAC while records arrive")
      .env("TRENT_AUDIT_SEAL_INTERVAL")
      .default(5)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--audit-max-file-mb <mb>", "an audit file this large is sealed and set aside; a new one continues")
      .env("TRENT_AUDIT_MAX_FILE_MB")
      .default(256)
      .argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--no-audit-required", "answer requests whose audit record cannot be written (default: fail them)").env(
      "TRENT_NO_AUDIT_REQUIRED",
    ),
  )
  .addOption(new Option("--no-sm2", "refuse SM2 data key pairs, as AWS does outside China regions").env("TRENT_NO_SM2"))
  .addOption(
    new Option("--quotas <file>", "request-rate quotas: default (AWS's), off, or a JSON file of overrides").env(
      "TRENT_QUOTAS",
    ),
  )
  .addOption(new Option("--no-quotas", "serve without request-rate quotas (same as --quotas off)"))
  .addOption(
    new Option("--drain-timeout <seconds>", "on SIGTERM, how long requests in flight may take before they are cut off")
      .env("TRENT_DRAIN_TIMEOUT")
      .default(DEFAULT_DRAIN_TIMEOUT_MS / 1000)
      .argParser(parsePositiveInt),
  )
  .addOption(new Option("--log-level <level>", "pino log level").env("TRENT_LOG_LEVEL").default("info"))
  .addOption(new Option("--no-console", "do not serve the web console at /console/ (or TRENT_CONSOLE=off)"))
  .action(async (options) => {
    const listen = typeof options.listen === "string" ? parseListen(options.listen) : options.listen;
    const tlsListen =
      options.listenTls === undefined || typeof options.listenTls !== "string"
        ? options.listenTls
        : parseListen(options.listenTls);
    const workers = typeof options.workers === "string" ? parseWorkers(options.workers) : options.workers;
    const config: TrentConfig = {
      ...(tlsListen === undefined
        ? {}
        : {
            tls: {
              host: tlsListen.host,
              port: tlsListen.port,
              certFile: options.tlsCert,
              keyFile: options.tlsKey,
              hostNames: String(options.tlsHostNames)
                .split(",")
                .map((name) => name.trim())
                .filter((name) => name !== ""),
            },
          }),
      host: listen.host,
      port: listen.port,
      dataDir: options.data,
      storeUrl: options.store,
      accountId: options.accountId,
      region: options.region,
      rootKey: options.rootKey,
      root: rootConfigFrom(options),
      pkcs11Module: options.pkcs11Module,
      keyPairPoolDepth: options.keyPairPool ?? DEFAULT_POOL_DEPTH,
      keyPairWorkers: options.keyPairWorkers,
      allowSm2: options.sm2 !== false,
      logLevel: options.logLevel,
      deletionSweepMs: 60_000,
      rotationSweepMs: 60_000,
      alibabaMaxConcurrency: options.alibabaMaxConcurrency,
      drainTimeoutMs: options.drainTimeout * 1000,
      http: {
        headersTimeoutMs: options.headerTimeout * 1000,
        bodyTimeoutMs: options.bodyTimeout * 1000,
        keepAliveTimeoutMs: options.keepAliveTimeout * 1000,
        maxConnections: options.maxConnections,
        maxBodyBytes: options.maxBodyBytes,
      },
      quotas: { settings: quotaSettingsOf(options.quotas), processes: workers },
      attestationRootsFile: options.attestationRoots,
      attestationMaxAgeMs: options.attestationMaxAge * 1000,
      auditSinks: options.auditSink,
      auditDir: options.auditDir,
      auditFsync: options.auditFsync,
      auditSealIntervalMs: options.auditSealInterval * 1000,
      auditMaxFileBytes: options.auditMaxFileMb * 1024 * 1024,
      auditRequired: options.auditRequired !== false,
      console: options.console !== false && consoleFromEnv(process.env.TRENT_CONSOLE),
    };
    if (isClusterWorker()) {
      const trent = await startClusterWorker(config);
      exitOnStopSignals(trent.logger, () => trent.close());
      return;
    }
    if (workers > 1) {
      await startCluster(config, workers);
      return;
    }
    const trent = await startTrent(config);
    exitOnStopSignals(trent.logger, () => trent.close());
  });

/** TRENT_CONSOLE: on (the default) or off. */
function consoleFromEnv(value: string | undefined): boolean {
  if (value === undefined || value === "" || /^(on|true|1)$/i.test(value)) return true;
  if (/^(off|false|0)$/i.test(value)) return false;
  throw new InvalidArgumentError(`TRENT_CONSOLE must be on or off, not ${value}`);
}

/** Opens the data directory for one admin command and closes it afterwards. */
async function withDataDirectory(
  options: { data: string; rootKey?: string; store?: string; root?: string },
  run: (data: DataDirectory) => Promise<void>,
): Promise<void> {
  const data = await openDataDirectory(options.data, rootConfigFrom(options), undefined, options.store);
  try {
    await run(data);
  } finally {
    await data.store.close();
  }
}

function parseAuditSinks(value: string): AuditSinkKind[] {
  if (value === "none") return [];
  const sinks = value.split(",").map((sink) => sink.trim());
  for (const sink of sinks) {
    if (sink !== "file" && sink !== "stdout") {
      throw new InvalidArgumentError("use file, stdout, file,stdout or none");
    }
  }
  return [...new Set(sinks)] as AuditSinkKind[];
}

const PRINCIPAL_NAME = /^[\w+=,.@-]{1,64}$/;

/** `--user NAME` or `--role NAME`, in `--account-id` or Trent's own account: created if new. */
async function principalFrom(
  data: DataDirectory,
  options: { user?: string; role?: string; accountId?: string },
): Promise<Principal> {
  const kind = options.user !== undefined ? "user" : "role";
  const name = options.user ?? options.role;
  if ((options.user === undefined) === (options.role === undefined) || name === undefined) {
    throw new InvalidArgumentError("give exactly one of --user NAME or --role NAME");
  }
  if (!PRINCIPAL_NAME.test(name)) throw new InvalidArgumentError("names are 1-64 of [A-Za-z0-9_+=,.@-]");
  return data.accessKeys.ensurePrincipal(options.accountId ?? data.accountId, kind, name);
}

function principalOptions(command: Command): Command {
  return command
    .option("--user <name>", "an IAM-style user")
    .option("--role <name>", "an IAM-style role")
    .addOption(
      new Option("--account-id <id>", "the principal's account (default: Trent's account)").argParser(parseAccountId),
    )
    .addOption(dataOption())
    .addOption(storeOption())
    .addOption(rootKeyOption());
}

const principal = program.command("principal").description("manage users and roles");

principalOptions(
  principal.command("create").description("create a user or role (no-op if it exists) and print its ARN"),
).action((options) =>
  withDataDirectory(options, async (data) => {
    process.stdout.write(`${(await principalFrom(data, options)).arn}\n`);
  }),
);

const accessKey = program.command("access-key").description("manage access keys of principals");

principalOptions(
  accessKey
    .command("create")
    .description("create an access key for a user or role (created if new); print it or write a credentials file"),
)
  .option("--credentials-file <file>", "write an AWS shared-credentials file (mode 0600) instead of printing")
  .option("--profile <name>", "profile name in the credentials file", "trent")
  .option("--region <region>", "region in the credentials file", "us-east-1")
  .action((options) =>
    withDataDirectory(options, async (data) => {
      const issued = await data.accessKeys.issue(await principalFrom(data, options));
      if (options.credentialsFile) {
        writeCredentialsFile(options.credentialsFile, options.profile, issued, options.region);
        process.stdout.write(
          `${issued.accessKeyId} for ${issued.principalArn} written to ${options.credentialsFile}\n`,
        );
      } else {
        const printed = {
          AccessKeyId: issued.accessKeyId,
          SecretAccessKey: issued.secretAccessKey,
          Arn: issued.principalArn,
        };
        process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
      }
    }),
  );

accessKey
  .command("list")
  .description("list access keys (never their secrets)")
  .option("--user-arn <arn>", "only this principal's keys")
  .addOption(dataOption())
  .addOption(storeOption())
  .addOption(rootKeyOption())
  .action((options) =>
    withDataDirectory(options, async (data) => {
      for (const key of await data.store.listAccessKeys(options.userArn ?? null)) {
        process.stdout.write(`${key.accessKeyId}\t${key.principalArn}\t${key.createdAt.toISOString()}\n`);
      }
    }),
  );

accessKey
  .command("delete")
  .description("delete an access key; requests signed with it are refused from then on")
  .argument("<access-key-id>")
  .addOption(dataOption())
  .addOption(storeOption())
  .addOption(rootKeyOption())
  .action((accessKeyId: string, options) =>
    withDataDirectory(options, async (data) => {
      if (!(await data.store.deleteAccessKey(accessKeyId))) {
        process.stderr.write(`no access key ${accessKeyId}\n`);
        process.exitCode = 1;
      }
    }),
  );

const clientKey = program
  .command("client-key")
  .description("manage Alibaba client keys (ClientKey files for the dkms-gcs SDKs) of principals");

principalOptions(
  clientKey
    .command("create")
    .description("create a client key for a user or role (created if new); write its ClientKey and password files"),
)
  .option("--out <file>", "the ClientKey file (default: <data>/client-key-<KeyId>.json); the password goes beside it")
  .action((options) =>
    withDataDirectory(options, async (data) => {
      const owner = await principalFrom(data, options);
      const issued = await new ClientKeys(data.store).issue(owner);
      const keyFile: string = options.out ?? join(options.data, `client-key-${issued.keyId}.json`);
      const passwordFile = keyFile.endsWith(".json") ? `${keyFile.slice(0, -5)}.password` : `${keyFile}.password`;
      writePrivateFile(passwordFile, issued.password);
      writePrivateFile(keyFile, issued.clientKeyJson);
      const printed = {
        KeyId: issued.keyId,
        Arn: owner.arn,
        ClientKeyFile: keyFile,
        PasswordFile: passwordFile,
      };
      process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
    }),
  );

principalOptions(
  clientKey.command("list").description("list client keys, or one principal's (never private keys)"),
).action((options) =>
  withDataDirectory(options, async (data) => {
    // Names the principal without creating it, as principalFrom would.
    const name: string | undefined = options.user ?? options.role;
    const kind = options.user !== undefined ? "user" : "role";
    const arn = name === undefined ? null : `arn:aws:iam::${options.accountId ?? data.accountId}:${kind}/${name}`;
    for (const key of await data.store.listClientKeys(arn)) {
      process.stdout.write(`${key.keyId}\t${key.principalArn}\t${key.createdAt.toISOString()}\n`);
    }
  }),
);

clientKey
  .command("delete")
  .description("delete a client key; requests signed with it are refused from then on")
  .argument("<key-id>")
  .addOption(dataOption())
  .addOption(storeOption())
  .addOption(rootKeyOption())
  .action((keyId: string, options) =>
    withDataDirectory(options, async (data) => {
      if (!(await data.store.deleteClientKey(keyId))) {
        process.stderr.write(`no client key ${keyId}\n`);
        process.exitCode = 1;
      }
    }),
  );

const identityPolicy = program
  .command("identity-policy")
  .description("manage identity (IAM-style) policies attached to users and roles");

principalOptions(identityPolicy.command("put").description("attach or replace a named identity policy"))
  .requiredOption("--name <name>", "policy name")
  .requiredOption("--document <json-or-@file>", "the policy document, or @path to read it from a file")
  .action((options) =>
    withDataDirectory(options, async (data) => {
      const document = options.document.startsWith("@")
        ? readFileSync(options.document.slice(1), "utf8")
        : options.document;
      parsePolicyDocument(document, "identity");
      const target = await principalFrom(data, options);
      await data.store.putIdentityPolicy({ principalArn: target.arn, policyName: options.name, document });
      process.stdout.write(`${options.name} attached to ${target.arn}\n`);
    }),
  );

principalOptions(identityPolicy.command("list").description("print a principal's identity policies")).action(
  (options) =>
    withDataDirectory(options, async (data) => {
      const target = await principalFrom(data, options);
      const policies = await data.store.listIdentityPolicies(target.arn);
      const printed = policies.map((p) => ({ PolicyName: p.policyName, Document: JSON.parse(p.document) }));
      process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
    }),
);

principalOptions(identityPolicy.command("delete").description("detach a named identity policy"))
  .requiredOption("--name <name>", "policy name")
  .action((options) =>
    withDataDirectory(options, async (data) => {
      const target = await principalFrom(data, options);
      if (!(await data.store.deleteIdentityPolicy(target.arn, options.name))) {
        process.stderr.write(`${target.arn} has no policy ${options.name}\n`);
        process.exitCode = 1;
      }
    }),
  );

addCheckCommand(program, [dataOption(), storeOption(), rootKeyOption()]);
addAuditCommands(program, [dataOption(), storeOption(), rootKeyOption()]);
addBackupCommands(program, () => [dataOption(), storeOption(), rootKeyOption()]);
addRootCommands(program, () => [dataOption(), storeOption(), rootKeyOption()]);
addHsmCommands(program);
// Every command that opens the root of trust (it takes --root-key) takes the PKCS#11 root's options too.
for (const command of program.commands.flatMap((parent) => [parent, ...parent.commands])) {
  if (command.options.some((option) => option.long === "--root-key")) addRootOptions(command);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`trent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
