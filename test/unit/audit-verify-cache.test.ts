import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type ChainHead, chainLine, GENESIS, sealRecord } from "../../src/audit/audit-chain.js";
import { AuditFiles } from "../../src/audit/audit-files.js";

const SEAL_KEY = Buffer.alloc(32, 7);

/** Appends `count` request lines and a seal to a chain file; returns the new head. */
function writeChain(file: string, head: ChainHead, count: number, sealed = true): ChainHead {
  let text = "";
  let current = head;
  for (let i = 0; i < count; i++) {
    const next = chainLine(
      { eventTime: "2030-01-01T00:00:00Z", eventSource: "kms.amazonaws.com", eventName: "X" },
      current,
    );
    text += `${next.line}\n`;
    current = next.head;
  }
  if (sealed) {
    const seal = chainLine(sealRecord(SEAL_KEY, current, new Date(Date.UTC(2030, 0, 1))), current);
    text += `${seal.line}\n`;
    current = seal.head;
  }
  appendFileSync(file, text);
  return current;
}

const rotatedName = (head: ChainHead) => `audit.${String(head.sequence).padStart(12, "0")}.log`;

describe("VerifyAuditTrail's check of rotated files, cached per process", () => {
  const dir = mkdtempSync(join(tmpdir(), "trent-audit-verify-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = new AuditFiles(dir, SEAL_KEY);

  // Three rotated files, each ending with a seal, and the current one.
  let head = GENESIS;
  const rotated: string[] = [];
  for (let f = 0; f < 3; f++) {
    const tmp = join(dir, "tmp.part");
    head = writeChain(tmp, head, 50);
    const name = join(dir, rotatedName(head));
    writeFileSync(name, readFileSync(tmp));
    rmSync(tmp);
    rotated.push(name);
  }
  head = writeChain(join(dir, "audit.log"), head, 10, false);

  test("a second check gives the same counts from the cache, and follows the current file as it grows", async () => {
    const [first] = await files.verify();
    assert.deepEqual(
      {
        files: first?.files,
        records: first?.records,
        seals: first?.seals,
        unsealed: first?.unsealed,
        problem: first?.problem,
      },
      { files: 4, records: 160, seals: 3, unsealed: 10, problem: null },
    );
    const [second] = await files.verify();
    assert.deepEqual(second, first);
    head = writeChain(join(dir, "audit.log"), head, 5);
    const [third] = await files.verify();
    assert.equal(third?.records, 165);
    assert.equal(third?.seals, 4);
    assert.equal(third?.unsealed, 0);
    assert.equal(third?.problem, null);
  });

  test("a cached rotated file altered afterwards is read again and reported", async () => {
    await files.verify();
    const target = rotated[1] as string;
    const lines = readFileSync(target, "utf8").split("\n");
    // Same length, so only the content (and the file's times) change.
    lines[9] = (lines[9] as string).replace('"eventName":"X"', '"eventName":"Y"');
    writeFileSync(target, lines.join("\n"));
    const [status] = await files.verify();
    assert.equal(status?.problem?.kind, "altered");
    assert.equal(status?.problem?.file, target);
    assert.equal(status?.problem?.line, 10);
  });
});
