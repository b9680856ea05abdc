import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { AuditFiles, type RecordCursor } from "../../src/audit/audit-files.js";

/** A request record as a chain line holds it, padded so that a few thousand span several read chunks. */
function line(chain: string, sequence: number, second: number): string {
  return `${JSON.stringify({
    eventTime: new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString(),
    eventSource: "kms.amazonaws.com",
    eventName: `${chain}-${sequence}`,
    requestParameters: { padding: "x".repeat(400 + (sequence % 7) * 100) },
    additionalEventData: { sequence, previousHash: "0" },
  })}\n`;
}

const SEAL = `${JSON.stringify({ eventSource: "trent.audit", additionalEventData: { sequence: 0 } })}\n`;

/** Reads everything newest first, `pageSize` records at a time, each page from the cursor the last one left. */
async function readInPages(files: AuditFiles, pageSize: number, between?: () => void): Promise<string[]> {
  const names: string[] = [];
  let cursor: RecordCursor | undefined;
  for (;;) {
    const reader = await files.newestFirst(cursor);
    let last: RecordCursor | undefined;
    for (let i = 0; i < pageSize; i++) {
      const record = await reader.next();
      if (record === undefined) return names;
      names.push(String(record.record.eventName));
      last = record;
    }
    const { eventTime, chain, sequence } = last as RecordCursor;
    cursor = { eventTime, chain, sequence, positions: reader.positions() };
    await reader.close();
    between?.();
  }
}

describe("the audit files, read newest first", () => {
  const dir = mkdtempSync(join(tmpdir(), "trent-audit-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Two chains interleaved in time; chain a has a rotated file; lines cross the 256 KiB read chunks.
  const expected: string[] = [];
  let second = 0;
  const write = (file: string, chain: string, from: number, to: number) => {
    let text = "";
    for (let sequence = from; sequence <= to; sequence++) {
      text += line(chain, sequence, second);
      expected.push(`${chain}-${sequence}`);
      second++;
      if (sequence % 500 === 0) text += SEAL;
    }
    appendFileSync(join(dir, file), text);
  };
  write("audit.000000002000.log", "a", 1, 2000);
  write("audit-worker-2.log", "b", 1, 1500);
  write("audit.log", "a", 2001, 3000);
  expected.reverse();
  const files = new AuditFiles(dir, Buffer.alloc(32));

  test("in one read, every record once, newest first, seals left out", async () => {
    assert.deepEqual(await readInPages(files, Number.MAX_SAFE_INTEGER), expected);
  });

  test("page by page from each cursor's positions, also when the current file is rotated between pages", async () => {
    assert.deepEqual(await readInPages(files, 333), expected);
    let rotated = false;
    const names = await readInPages(files, 250, () => {
      if (rotated) return;
      rotated = true;
      renameSync(join(dir, "audit.log"), join(dir, "audit.000000003000.log"));
      writeFileSync(join(dir, "audit.log"), "");
    });
    assert.deepEqual(names, expected);
  });

  test("a cursor whose positions point anywhere reads the same records, and never outside the directory", async () => {
    const reader = await files.newestFirst();
    for (let i = 0; i < 10; i++) await reader.next();
    const last = (await reader.next()) as RecordCursor;
    const honest = await files.newestFirst({ ...last, positions: reader.positions() });
    const forged = await files.newestFirst({
      ...last,
      positions: {
        audit: ["../../../etc/passwd", 3, 7] as const,
        "audit-worker-2": ["audit-worker-2.log", 12345, 99] as const,
        constructor: ["x", -1, 0] as const,
      },
    });
    for (let i = 0; i < 50; i++) {
      assert.equal((await forged.next())?.record.eventName, (await honest.next())?.record.eventName);
    }
    await Promise.all([reader.close(), honest.close(), forged.close()]);
  });
});
