#!/usr/bin/env node
// A throwaway PostgreSQL cluster for tests: initdb into a temporary directory, listen on 127.0.0.1
// on a free port with trust authentication, and a database named `trent`. PostgreSQL refuses to run
// as root, so when we are root (as in CI) every PostgreSQL program runs as the `postgres` user.
//
//   node scripts/postgres-test-server.mjs start            prints {"url","dataDir","pid"}
//   node scripts/postgres-test-server.mjs stop <dataDir>   stops the server and removes the cluster
//   node scripts/postgres-test-server.mjs halt <dataDir>   stops the server, keeping the cluster
//   node scripts/postgres-test-server.mjs resume <dataDir> starts it again on the same port
//
// Exit status 3 means the PostgreSQL programs are not installed (set PG_BIN to their directory).
import { execFile } from "node:child_process";
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, delimiter, join } from "node:path";

const DIR_PREFIX = "trent-pg-";
const SETTINGS_FILE = "trent-test.conf";
const DATABASE = "trent";
const SUPERUSER = "postgres";
const STEP_TIMEOUT_MS = 60_000;
const START_TIMEOUT_S = 30;
const NOT_INSTALLED = 3;

class NotInstalledError extends Error {}

function binDir() {
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join("/usr/lib/postgresql", version, "bin"))
    : [];
  const path = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const candidates = [process.env.PG_BIN, ...versions, ...path].filter(Boolean);
  const found = candidates.find((dir) => ["initdb", "pg_ctl", "createdb"].every((p) => existsSync(join(dir, p))));
  if (!found) throw new NotInstalledError("PostgreSQL programs (initdb, pg_ctl, createdb) not found; set PG_BIN");
  return found;
}

const isRoot = process.getuid?.() === 0;

/** Runs a program, as the `postgres` user when we are root, failing with its stderr or on timeout. */
function run(program, args, timeout = STEP_TIMEOUT_MS) {
  const [file, argv] = isRoot ? ["runuser", ["-u", SUPERUSER, "--", program, ...args]] : [program, args];
  return new Promise((resolve, reject) => {
    // cwd "/" because the postgres user may not be allowed into ours.
    execFile(file, argv, { cwd: "/", timeout, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const why = error.killed ? `timed out after ${timeout} ms` : stderr.trim() || error.message;
      const name = basename(program) === "pg_ctl" ? `pg_ctl ${args[0]}` : basename(program);
      reject(new Error(`${name} failed: ${why}`));
    });
  });
}

function postgresUser() {
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === SUPERUSER);
  if (!entry) throw new Error(`running as root needs a "${SUPERUSER}" user to run PostgreSQL as`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const quote = (value) => `'${value.replaceAll("'", "''")}'`;

function configuredPort(dataDir) {
  const match = /^port = (\d+)$/m.exec(readFileSync(join(dataDir, SETTINGS_FILE), "utf8"));
  if (!match) throw new Error(`no port in ${join(dataDir, SETTINGS_FILE)}`);
  return Number(match[1]);
}

function describe(dataDir) {
  const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const url = `postgres://${SUPERUSER}@127.0.0.1:${configuredPort(dataDir)}/${DATABASE}`;
  return { url, dataDir, pid };
}

async function startServer(dataDir) {
  const log = join(dataDir, "server.log");
  try {
    await run(join(binDir(), "pg_ctl"), ["start", "-D", dataDir, "-l", log, "-w", "-t", String(START_TIMEOUT_S), "-s"]);
  } catch (error) {
    const tail = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-5).join("\n") : "";
    throw new Error(`${error.message}\n${tail}`);
  }
}

function assertCluster(dataDir) {
  if (!basename(dataDir).startsWith(DIR_PREFIX) || !existsSync(join(dataDir, SETTINGS_FILE))) {
    throw new Error(`${dataDir} is not a cluster made by this script`);
  }
}

async function start() {
  const bin = binDir();
  const dataDir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  try {
    if (isRoot) {
      const { uid, gid } = postgresUser();
      chownSync(dataDir, uid, gid);
    }
    await run(join(bin, "initdb"), ["-D", dataDir, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C", "-N"]);
    appendFileSync(join(dataDir, "postgresql.conf"), `\ninclude = ${quote(SETTINGS_FILE)}\n`);
    // Another process may take the free port before the server binds it; then try another one.
    for (let attempt = 1; ; attempt++) {
      const settings = {
        port: await freePort(),
        listen_addresses: quote("127.0.0.1"),
        unix_socket_directories: quote(dataDir),
        max_connections: 200,
        // A test cluster: durability against OS crashes is not worth the fsyncs.
        fsync: "off",
      };
      const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}\n`);
      writeFileSync(join(dataDir, SETTINGS_FILE), lines.join(""), { mode: 0o644 });
      try {
        await startServer(dataDir);
        break;
      } catch (error) {
        if (attempt === 3 || !/could not bind|already in use/i.test(error.message)) throw error;
      }
    }
    const port = String(configuredPort(dataDir));
    await run(join(bin, "createdb"), ["-h", dataDir, "-p", port, "-U", SUPERUSER, DATABASE]);
    return describe(dataDir);
  } catch (error) {
    await stop(dataDir).catch(() => rmSync(dataDir, { recursive: true, force: true }));
    throw error;
  }
}

async function halt(dataDir) {
  assertCluster(dataDir);
  if (!existsSync(join(dataDir, "postmaster.pid"))) return;
  const pgCtl = join(binDir(), "pg_ctl");
  try {
    await run(pgCtl, ["stop", "-D", dataDir, "-m", "fast", "-w", "-t", String(START_TIMEOUT_S), "-s"]);
  } catch {
    await run(pgCtl, ["stop", "-D", dataDir, "-m", "immediate", "-w", "-t", String(START_TIMEOUT_S), "-s"]);
  }
}

async function resume(dataDir) {
  assertCluster(dataDir);
  await startServer(dataDir);
  return describe(dataDir);
}

async function stop(dataDir) {
  if (!existsSync(dataDir)) return;
  await halt(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
}

const [command, dataDir] = process.argv.slice(2);
const commands = { start, stop, halt, resume };
try {
  if (!Object.hasOwn(commands, command) || (command !== "start") !== (dataDir !== undefined)) {
    throw new Error("usage: postgres-test-server.mjs start | stop <dataDir> | halt <dataDir> | resume <dataDir>");
  }
  const result = await commands[command](dataDir);
  if (result) process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`postgres-test-server: ${error.message}\n`);
  process.exitCode = error instanceof NotInstalledError ? NOT_INSTALLED : 1;
}
