// Derives src/protocol/aws/kms-model.json from botocore's KMS service model: the operations with
// their input/output shapes, and every shape's type, members and constraints (no documentation).
// Run: node scripts/gen-kms-model.mjs [path/to/service-2.json.gz]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const source =
  process.argv[2] ??
  join(
    execFileSync("python3", ["-c", "import botocore,os;print(os.path.dirname(botocore.__file__))"]).toString().trim(),
    "data/kms/2014-11-01/service-2.json.gz",
  );
const model = JSON.parse(gunzipSync(readFileSync(source)).toString("utf8"));
const KEEP = [
  "type",
  "required",
  "members",
  "member",
  "key",
  "value",
  "min",
  "max",
  "pattern",
  "enum",
  "sensitive",
  "exception",
];

const shapes = {};
for (const [name, shape] of Object.entries(model.shapes)) {
  const out = {};
  for (const field of KEEP) if (shape[field] !== undefined) out[field] = shape[field];
  if (out.members) {
    out.members = Object.fromEntries(Object.entries(out.members).map(([m, ref]) => [m, { shape: ref.shape }]));
  }
  for (const field of ["member", "key", "value"]) if (out[field]) out[field] = { shape: out[field].shape };
  shapes[name] = out;
}
const operations = Object.fromEntries(
  Object.entries(model.operations).map(([name, op]) => [
    name,
    { input: op.input?.shape ?? null, output: op.output?.shape ?? null, errors: (op.errors ?? []).map((e) => e.shape) },
  ]),
);
const out = {
  metadata: { apiVersion: model.metadata.apiVersion, targetPrefix: model.metadata.targetPrefix },
  operations,
  shapes,
};
writeFileSync(new URL("../src/protocol/aws/kms-model.json", import.meta.url), `${JSON.stringify(out, null, 1)}\n`);
console.log(`wrote ${Object.keys(operations).length} operations, ${Object.keys(shapes).length} shapes`);
