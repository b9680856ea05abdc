// Derives src/protocol/aws/cloudtrail-model.json from botocore's CloudTrail service model: the
// one operation Trent serves (LookupEvents, read by the web console's audit view) with its
// input and output shapes and their constraints (no documentation).
// Run: node scripts/gen-cloudtrail-model.mjs [path/to/service-2.json.gz]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const source =
  process.argv[2] ??
  join(
    execFileSync("python3", ["-c", "import botocore,os;print(os.path.dirname(botocore.__file__))"]).toString().trim(),
    "data/cloudtrail/2013-11-01/service-2.json.gz",
  );
const model = JSON.parse(gunzipSync(readFileSync(source)).toString("utf8"));
const OPERATIONS = ["LookupEvents"];
const KEEP = ["type", "required", "members", "member", "min", "max", "pattern", "enum", "exception"];

const shapes = {};
function keep(name) {
  if (shapes[name] !== undefined) return;
  const shape = model.shapes[name];
  const out = {};
  shapes[name] = out;
  for (const field of KEEP) if (shape[field] !== undefined) out[field] = shape[field];
  if (out.members) {
    out.members = Object.fromEntries(Object.entries(out.members).map(([m, ref]) => [m, { shape: ref.shape }]));
    for (const ref of Object.values(out.members)) keep(ref.shape);
  }
  if (out.member) {
    out.member = { shape: out.member.shape };
    keep(out.member.shape);
  }
}
const operations = {};
for (const name of OPERATIONS) {
  const op = model.operations[name];
  operations[name] = { input: op.input.shape, output: op.output.shape, errors: op.errors.map((e) => e.shape) };
  keep(op.input.shape);
  keep(op.output.shape);
  for (const error of op.errors) keep(error.shape);
}
const out = {
  metadata: { apiVersion: model.metadata.apiVersion, targetPrefix: model.metadata.targetPrefix },
  operations,
  shapes,
};
writeFileSync(
  new URL("../src/protocol/aws/cloudtrail-model.json", import.meta.url),
  `${JSON.stringify(out, null, 1)}\n`,
);
console.log(`wrote ${Object.keys(operations).length} operations, ${Object.keys(shapes).length} shapes`);
