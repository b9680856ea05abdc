// Derives src/protocol/alibaba/api-proto.json from api.proto (the Alibaba Cloud KMS instance API's
// messages, copied verbatim from the SDK): protobufjs's JSON descriptor, field names kept as written
// (KeyId, CiphertextBlob, ...) because the operations read and write them under those names.
// Run: node scripts/gen-alibaba-proto.mjs
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

const source = fileURLToPath(new URL("../src/protocol/alibaba/api.proto", import.meta.url));
const root = new protobuf.Root().loadSync(source, { keepCase: true });
root.resolveAll();
const descriptor = root.toJSON();
writeFileSync(
  new URL("../src/protocol/alibaba/api-proto.json", import.meta.url),
  `${JSON.stringify(descriptor, null, 2)}\n`,
);
const messages = Object.keys(descriptor.nested.api.nested).filter((name) => descriptor.nested.api.nested[name].fields);
console.log(`wrote ${messages.length} messages`);
