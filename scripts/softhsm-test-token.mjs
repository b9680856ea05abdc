#!/usr/bin/env node
// Throwaway SoftHSM2 tokens for tests and local trials: each call gets its own token directory and
// configuration file, so tests never share a token or touch the system's.
//
//   node scripts/softhsm-test-token.mjs install          installs Debian's softhsm2 when missing
//   node scripts/softhsm-test-token.mjs create [label]   prints {"modulePath","conf","dir","tokenLabel","pin","soPin"}
//   node scripts/softhsm-test-token.mjs add <dir> label  another token in the same directory (same JSON)
//   node scripts/softhsm-test-token.mjs remove <dir>     deletes the tokens
//
// Trent and softhsm2-util find the tokens through SOFTHSM2_CONF=<conf>. Exit status 3 means SoftHSM2
// is not installed and could not be installed (apt-get needs root and Debian's package archive).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NOT_INSTALLED = 3;
const MODULE_PATHS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];
const DIR_PREFIX = "trent-softhsm-";

function modulePath() {
  return MODULE_PATHS.find((path) => existsSync(path));
}

function install() {
  if (modulePath()) return;
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["install", "-y", "-q", "softhsm2"], { stdio: ["ignore", "ignore", "inherit"], env });
  } catch {
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      execFileSync("apt-get", ["update", "-q"], { stdio: ["ignore", "ignore", "inherit"], env });
      execFileSync("apt-get", ["install", "-y", "-q", "softhsm2"], { stdio: ["ignore", "ignore", "inherit"], env });
    } catch {
      // Reported below: the module is still missing.
    }
  }
  if (!modulePath()) {
    console.error("SoftHSM2 is not installed and `apt-get install softhsm2` failed");
    process.exit(NOT_INSTALLED);
  }
}

function initToken(dir, label) {
  const conf = join(dir, "softhsm2.conf");
  const pin = "1234";
  const soPin = "12345678";
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { modulePath: modulePath(), conf, dir, tokenLabel: label, pin, soPin };
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case "install":
    install();
    break;
  case "create": {
    install();
    const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(
      join(dir, "softhsm2.conf"),
      `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    );
    process.stdout.write(`${JSON.stringify(initToken(dir, args[0] ?? "trent"))}\n`);
    break;
  }
  case "add": {
    if (!args[0] || !args[1]) throw new Error("usage: add <dir> <label>");
    process.stdout.write(`${JSON.stringify(initToken(args[0], args[1]))}\n`);
    break;
  }
  case "remove":
    if (!args[0]?.includes(DIR_PREFIX)) throw new Error(`refusing to remove ${args[0]}: not a test token directory`);
    rmSync(args[0], { recursive: true, force: true });
    break;
  default:
    console.error("usage: softhsm-test-token.mjs install | create [label] | add <dir> <label> | remove <dir>");
    process.exit(2);
}
