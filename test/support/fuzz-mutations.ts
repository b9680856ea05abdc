import fc from "fast-check";

/**
 * The fuzzer's mutations, as plain data (so fast-check can print and shrink them) applied to a
 * valid request by pure functions: JSON trees, byte strings and Trent's ciphertext blobs.
 */

/** A JSON document as the fuzzer writes it: objects keep repeated keys, `raw` is sent verbatim. */
export type JsonTree =
  | { kind: "value"; value: null | boolean | number | string }
  | { kind: "raw"; text: string }
  | { kind: "array"; items: JsonTree[] }
  | { kind: "object"; entries: [string, JsonTree][] };

export function toTree(value: unknown): JsonTree {
  if (Array.isArray(value)) return { kind: "array", items: value.map(toTree) };
  if (value !== null && typeof value === "object") {
    return { kind: "object", entries: Object.entries(value).map(([key, item]) => [key, toTree(item)]) };
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value === null) {
    return { kind: "value", value };
  }
  throw new TypeError(`not JSON: ${typeof value}`);
}

export function serializeTree(tree: JsonTree): string {
  switch (tree.kind) {
    case "value":
      return JSON.stringify(tree.value);
    case "raw":
      return tree.text;
    case "array":
      return `[${tree.items.map(serializeTree).join(",")}]`;
    case "object":
      return `{${tree.entries.map(([key, item]) => `${JSON.stringify(key)}:${serializeTree(item)}`).join(",")}}`;
  }
}

/** A place in a tree: the root, an array item or an object entry's value. */
interface Slot {
  readonly node: JsonTree;
  /** The entry's name, for a slot in an object. */
  readonly key: string | undefined;
  set(node: JsonTree): void;
  remove(): void;
}

function slotsOf(holder: { root: JsonTree }): Slot[] {
  const slots: Slot[] = [];
  const visit = (node: JsonTree, key: string | undefined, set: (node: JsonTree) => void, remove: () => void) => {
    slots.push({ node, key, set, remove });
    if (node.kind === "array") {
      node.items.forEach((item, index) => {
        visit(
          item,
          undefined,
          (replacement) => {
            node.items[index] = replacement;
          },
          () => {
            node.items.splice(node.items.indexOf(item), 1);
          },
        );
      });
    } else if (node.kind === "object") {
      for (const entry of node.entries) {
        visit(
          entry[1],
          entry[0],
          (replacement) => {
            entry[1] = replacement;
          },
          () => {
            node.entries.splice(node.entries.indexOf(entry), 1);
          },
        );
      }
    }
  };
  visit(
    holder.root,
    undefined,
    (replacement) => {
      holder.root = replacement;
    },
    () => {
      holder.root = { kind: "object", entries: [] };
    },
  );
  return slots;
}

// ---------------------------------------------------------------------------------------------
// Byte mutations: for whole bodies and for blobs (ciphertexts, signatures, MACs, public keys)

export type ByteMutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "truncate"; at: number }
  | { op: "extend"; bytes: Uint8Array }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "setByte"; at: number; value: number }
  | { op: "replace"; bytes: Uint8Array }
  | { op: "repeat"; times: number }
  | { op: "empty" }
  /** Trent's blob layout: version, key type, key id length L, key id, 4-byte key version. */
  | { op: "keyVersion"; value: number }
  | { op: "swapKeyId"; candidate: number }
  | { op: "spliceHeader"; candidate: number };

export interface MutationContext {
  /** Key ids to move a blob to: the fixtures', and ids that are not keys. */
  readonly keyIds: readonly string[];
  /** Other valid blobs, whose header or body a blob can take. */
  readonly blobs: readonly Buffer[];
}

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

/** Past every limit the server has (1 MiB AWS bodies, 3 MiB Alibaba bodies): more only costs time. */
const MAX_BYTES = 3 * 1024 * 1024 + 64;

export function mutateBytes(input: Buffer, mutation: ByteMutation, context: MutationContext): Buffer {
  const mutated = applyByteMutation(input, mutation, context);
  return mutated.length > MAX_BYTES ? mutated.subarray(0, MAX_BYTES) : mutated;
}

function applyByteMutation(input: Buffer, mutation: ByteMutation, context: MutationContext): Buffer {
  const bytes = Buffer.from(input);
  switch (mutation.op) {
    case "flip": {
      if (bytes.length === 0) return Buffer.from([1 << mutation.bit]);
      const at = mutation.at % bytes.length;
      bytes[at] = (bytes[at] as number) ^ (1 << mutation.bit);
      return bytes;
    }
    case "truncate":
      return bytes.subarray(0, mutation.at % Math.max(1, bytes.length));
    case "extend":
      return Buffer.concat([bytes, mutation.bytes]);
    case "insert": {
      const at = mutation.at % (bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
    }
    case "setByte": {
      if (bytes.length === 0) return Buffer.from([mutation.value]);
      bytes[mutation.at % bytes.length] = mutation.value;
      return bytes;
    }
    case "replace":
      return Buffer.from(mutation.bytes);
    case "repeat":
      return Buffer.concat(
        Array.from({ length: Math.min(mutation.times, MAX_BYTES / (bytes.length || 1)) }, () => bytes),
      );
    case "empty":
      return Buffer.alloc(0);
    case "keyVersion": {
      const at = 3 + (bytes[2] ?? 0);
      if (bytes.length >= at + 4) bytes.writeUInt32BE(mutation.value, at);
      return bytes;
    }
    case "swapKeyId": {
      const keyId = Buffer.from(pick(context.keyIds, mutation.candidate) ?? "", "latin1").subarray(0, 255);
      const length = bytes[2] ?? 0;
      if (bytes.length < 3) return bytes;
      return Buffer.concat([bytes.subarray(0, 2), Buffer.from([keyId.length]), keyId, bytes.subarray(3 + length)]);
    }
    case "spliceHeader": {
      const other = pick(context.blobs, mutation.candidate);
      if (other === undefined || other.length < 3 || bytes.length < 3) return bytes;
      const header = (blob: Buffer) => Math.min(blob.length, 3 + (blob[2] as number) + 4 + 32 + 12);
      return Buffer.concat([other.subarray(0, header(other)), bytes.subarray(header(bytes))]);
    }
  }
}

const smallBytes = fc.uint8Array({ maxLength: 48 });

/** Mutations of a whole body or of any byte string. */
export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("flip"), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("truncate"), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("extend"), bytes: smallBytes }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("insert"), at: fc.nat(), bytes: smallBytes }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("setByte"), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("replace"), bytes: fc.uint8Array({ maxLength: 512 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("repeat"), times: fc.integer({ min: 2, max: 50 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: "empty" as const }) },
);

/** Mutations of a ciphertext blob: the generic ones, and ones that know Trent's header. */
export const blobMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 6, arbitrary: byteMutation },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("setByte"),
      at: fc.integer({ min: 0, max: 2 }),
      value: fc.oneof(fc.constantFrom(0, 1, 2, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("keyVersion"),
      value: fc.oneof(fc.constantFrom(0, 1, 2, 0x7fffffff, 0xffffffff), fc.nat({ max: 0xffffffff })),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("swapKeyId"), candidate: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("spliceHeader"), candidate: fc.nat() }) },
);

// ---------------------------------------------------------------------------------------------
// Hostile JSON values

/** Numbers JSON can carry but JavaScript cannot hold exactly, and texts that are not JSON at all. */
const RAW_TEXTS = [
  "1e999",
  "-1e999",
  "-0",
  "0.1e-400",
  "123456789012345678901234567890",
  "1.0",
  "1E2",
  "00",
  "+1",
  "0x10",
  "NaN",
  "Infinity",
  "undefined",
  "'single'",
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\x41"',
  '"unterminated',
  "[",
  "{",
  "}",
  "]",
  "[1,]",
  '{"a":1,}',
  "",
  "tru",
  "nul",
];

const SPECIAL_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "\ufeff",
  "\u202e\u0066\u006f\u006f",
  "😀",
  "\u{10ffff}",
  "%00",
  "../../etc/passwd",
  "alias/",
  "alias/aws/ebs",
  "alias/aws",
  "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000",
  "arn:aws:kms:::key/",
  "arn:",
  "mrk-00000000000000000000000000000000",
  "00000000-0000-0000-0000-000000000000",
  "AAAA",
  "====",
  "AA==AA==",
  "!!!!",
  "-_-_",
  "true",
  "null",
  "0",
  "-1",
  "1e999",
  "SYMMETRIC_DEFAULT",
  // RSA_4096 is left out: every hit would cost seconds of key generation, and finds nothing RSA_2048 does not.
  "RSA_2048",
  "ECC_NIST_P256",
  "HMAC_256",
  "SIGN_VERIFY",
  "ENCRYPT_DECRYPT",
  "RSAES_OAEP_SHA_256",
  "ECDSA_SHA_256",
  "RAW",
  "DIGEST",
  "AES_256",
  "AES_128",
  "Enabled",
  "default",
  "__proto__",
  "{}",
  "[]",
  "*",
  "kms:*",
];

const SPECIAL_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1e308,
  -1e308,
  5e-324,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  7,
  30,
  1024,
  1025,
  4096,
  4097,
  6144,
  6145,
];

const KEY_NAMES = [
  "KeyId",
  "keyId",
  "KEYID",
  "Plaintext",
  "CiphertextBlob",
  "EncryptionContext",
  "GrantTokens",
  "DryRun",
  "Limit",
  "Marker",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  "\u0000",
  " KeyId",
  "😀",
];

/**
 * Any code points, lone surrogates included. (fast-check's `unit: "binary"` does the same but
 * takes seconds to build, indexing all of Unicode for shrinking without context.)
 */
export const anyUnicode: fc.Arbitrary<string> = fc.string({
  unit: fc.integer({ min: 0, max: 0x10ffff }).map((codePoint) => String.fromCodePoint(codePoint)),
  maxLength: 40,
});

/**
 * Long strings, beyond every length limit of the model and up to near the 1 MiB body limit.
 * Rare: every request costs its size on both ends, and the long run has a million of them.
 */
const longString: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("a", "0", "\u0000", "é", "😀", "A"),
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 250, max: 9000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 9000, max: 300_000 }) },
    ),
  )
  .map(([unit, length]) => unit.repeat(length));

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 16, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 12, arbitrary: anyUnicode },
  { weight: 8, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: longString },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEY_NAMES) },
  { weight: 1, arbitrary: hostileString },
);

const hostileLeaf: fc.Arbitrary<JsonTree> = fc.oneof(
  { weight: 5, arbitrary: hostileString.map((value): JsonTree => ({ kind: "value", value })) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.constantFrom(...SPECIAL_NUMBERS), fc.integer(), fc.double())
      .map((value): JsonTree => ({ kind: "value", value })),
  },
  { weight: 1, arbitrary: fc.constantFrom<JsonTree>({ kind: "value", value: null }) },
  { weight: 1, arbitrary: fc.boolean().map((value): JsonTree => ({ kind: "value", value })) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_TEXTS).map((text): JsonTree => ({ kind: "raw", text })) },
);

/** Any JSON value a client could send where the model expects something else. */
export const hostileJson: fc.Arbitrary<JsonTree> = fc.letrec<{ node: JsonTree }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    { weight: 8, arbitrary: hostileLeaf },
    {
      weight: 1,
      arbitrary: fc.array(tie("node"), { maxLength: 5 }).map((items): JsonTree => ({ kind: "array", items })),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(hostileKey, tie("node")), { maxLength: 5 })
        .map((entries): JsonTree => ({ kind: "object", entries })),
    },
  ),
})).node;

// ---------------------------------------------------------------------------------------------
// JSON mutations

export type JsonMutation =
  | { op: "replace"; at: number; value: JsonTree }
  /** Keeps the JSON type of what it replaces, so more of these get past shape validation. */
  | { op: "sameType"; at: number; text: string; number: number; items: string[] }
  | { op: "remove"; at: number }
  | { op: "add"; at: number; name: string; value: JsonTree }
  | { op: "duplicate"; at: number; value: JsonTree }
  | { op: "rename"; at: number; name: string }
  | { op: "nest"; at: number; depth: number; style: "array" | "object" }
  /** Many copies of an array's first item, or many distinct entries like an object's first: quadratic work shows. */
  | { op: "widen"; at: number; count: number }
  | { op: "retype"; at: number; to: "string" | "number" | "array" | "object" | "bool" }
  | { op: "blob"; at: number; mutation: ByteMutation }
  | { op: "base64"; at: number; text: string }
  /** A mutation inside a string that holds a JSON document (a key policy), written back as a string. */
  | { op: "inner"; at: number; mutations: JsonMutation[] };

const plainJsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("replace"), at: fc.nat(), value: hostileJson }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("sameType"),
      at: fc.nat(),
      text: hostileString,
      number: fc.oneof(fc.constantFrom(...SPECIAL_NUMBERS), fc.integer(), fc.double({ noNaN: true })),
      items: fc.array(fc.oneof(fc.constantFrom(...SPECIAL_STRINGS), anyUnicode), { maxLength: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("remove"), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("add"), at: fc.nat(), name: hostileKey, value: hostileJson }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("duplicate"), at: fc.nat(), value: hostileJson }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("rename"), at: fc.nat(), name: hostileKey }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("nest"),
      at: fc.nat(),
      depth: fc.oneof(
        { weight: 29, arbitrary: fc.integer({ min: 1, max: 8 }) },
        { weight: 1, arbitrary: fc.integer({ min: 100, max: 150_000 }) },
      ),
      style: fc.constantFrom("array", "object"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("widen"),
      at: fc.nat(),
      count: fc.oneof(
        { weight: 59, arbitrary: fc.integer({ min: 2, max: 60 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1000, max: 30_000 }) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("retype"),
      at: fc.nat(),
      to: fc.constantFrom("string", "number", "array", "object", "bool"),
    }),
  },
  { weight: 6, arbitrary: fc.record({ op: fc.constant("blob"), at: fc.nat(), mutation: blobMutation }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("base64"),
      at: fc.nat(),
      text: fc.oneof(
        fc.constantFrom("A", "AA", "AAA", "AA=A", "A===", "====", "AAAA====", "AA AA", "AA\nAA", "-_-_", "@@@@", ""),
        fc.string({ unit: "binary-ascii", maxLength: 24 }),
      ),
    }),
  },
);
export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 12, arbitrary: plainJsonMutation },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("inner"),
      at: fc.nat(),
      mutations: fc.array(plainJsonMutation, { minLength: 1, maxLength: 3 }),
    }),
  },
);

/** As many copies as asked for, within a few MiB of JSON. */
function widthFor(item: JsonTree, count: number): number {
  return Math.max(1, Math.min(count, Math.floor(MAX_BYTES / (serializeTree(item).length + 8))));
}

function primitiveText(node: JsonTree): string {
  return node.kind === "value" ? String(node.value) : serializeTree(node);
}

function retype(node: JsonTree, to: "string" | "number" | "array" | "object" | "bool"): JsonTree {
  switch (to) {
    case "string":
      return { kind: "value", value: primitiveText(node) };
    case "number":
      return { kind: "value", value: Number(primitiveText(node)) };
    case "array":
      return { kind: "array", items: [node] };
    case "object":
      return { kind: "object", entries: [["value", node]] };
    case "bool":
      return { kind: "value", value: node.kind === "value" ? Boolean(node.value) : true };
  }
}

/**
 * Applies mutations in order. Each names its place by an index taken modulo the places it can
 * apply to (a blob mutation to the base64 fields named in `blobFields`), so any index is valid
 * and smaller indices shrink towards the first place.
 */
export function mutateJson(
  tree: JsonTree,
  mutations: readonly JsonMutation[],
  blobFields: ReadonlySet<string>,
  context: MutationContext,
): JsonTree {
  const holder = { root: structuredClone(tree) };
  for (const mutation of mutations) {
    const slots = slotsOf(holder);
    const nth = (eligible: Slot[]) => pick(eligible, mutation.at);
    switch (mutation.op) {
      case "replace":
        nth(slots)?.set(mutation.value);
        break;
      case "sameType": {
        const slot = nth(slots.filter((candidate) => candidate.node !== holder.root));
        if (slot === undefined) break;
        const node = slot.node;
        const item = (value: string): JsonTree => ({ kind: "value", value });
        if (node.kind === "array") slot.set({ kind: "array", items: mutation.items.map(item) });
        else if (node.kind === "object") {
          slot.set({
            kind: "object",
            entries: mutation.items.map((text, index) => [text, item(mutation.items[index - 1] ?? "")]),
          });
        } else if (node.kind === "value" && typeof node.value === "number")
          slot.set({ kind: "value", value: mutation.number });
        else if (node.kind === "value" && typeof node.value === "boolean")
          slot.set({ kind: "value", value: !node.value });
        else slot.set(item(mutation.text));
        break;
      }
      case "remove":
        nth(slots.filter((slot) => slot.node !== holder.root))?.remove();
        break;
      case "add": {
        const slot = nth(slots.filter((candidate) => candidate.node.kind === "object"));
        if (slot?.node.kind === "object") slot.node.entries.push([mutation.name, mutation.value]);
        break;
      }
      case "duplicate": {
        const slot = nth(
          slots.filter((candidate) => candidate.node.kind === "object" && candidate.node.entries.length),
        );
        if (slot?.node.kind === "object") {
          const [name] = pick(slot.node.entries, mutation.at) as [string, JsonTree];
          slot.node.entries.push([name, mutation.value]);
        }
        break;
      }
      case "rename": {
        const slot = nth(
          slots.filter((candidate) => candidate.node.kind === "object" && candidate.node.entries.length),
        );
        if (slot?.node.kind === "object")
          (pick(slot.node.entries, mutation.at) as [string, JsonTree])[0] = mutation.name;
        break;
      }
      case "nest": {
        const slot = nth(slots);
        if (slot === undefined) break;
        const [open, close] = mutation.style === "array" ? ["[", "]"] : ['{"a":', "}"];
        slot.set({
          kind: "raw",
          text: `${open.repeat(mutation.depth)}${serializeTree(slot.node)}${close.repeat(mutation.depth)}`,
        });
        break;
      }
      case "widen": {
        const slot = nth(
          slots.filter((candidate) => candidate.node.kind === "array" || candidate.node.kind === "object"),
        );
        if (slot?.node.kind === "array") {
          const first = slot.node.items[0] ?? { kind: "value", value: "" };
          slot.node.items = Array.from({ length: widthFor(first, mutation.count) }, () => first);
        } else if (slot?.node.kind === "object") {
          const [name, value] = slot.node.entries[0] ?? ["k", { kind: "value", value: "v" } as JsonTree];
          const count = widthFor(value, mutation.count);
          slot.node.entries = Array.from({ length: count }, (_, index) => [`${name}${index}`, value]);
        }
        break;
      }
      case "retype": {
        const slot = nth(slots);
        slot?.set(retype(slot.node, mutation.to));
        break;
      }
      case "inner": {
        const documents = slots.filter(
          (slot) =>
            slot.node.kind === "value" && typeof slot.node.value === "string" && /^\s*[[{]/.test(slot.node.value),
        );
        const slot = nth(documents);
        if (slot?.node.kind !== "value") break;
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(slot.node.value));
        } catch {
          break;
        }
        slot.set({
          kind: "value",
          value: serializeTree(mutateJson(toTree(parsed), mutation.mutations, blobFields, context)),
        });
        break;
      }
      case "blob":
      case "base64": {
        const strings = slots.filter((slot) => slot.node.kind === "value" && typeof slot.node.value === "string");
        const blobs = strings.filter((slot) => slot.key !== undefined && blobFields.has(slot.key));
        const slot = nth(blobs.length > 0 ? blobs : strings);
        if (slot?.node.kind !== "value") break;
        const text =
          mutation.op === "base64"
            ? mutation.text
            : mutateBytes(Buffer.from(String(slot.node.value), "base64"), mutation.mutation, context).toString(
                "base64",
              );
        slot.set({ kind: "value", value: text });
        break;
      }
    }
  }
  return holder.root;
}

// ---------------------------------------------------------------------------------------------
// Whole bodies as bytes

const ONE_MIB = 1024 * 1024;

export type BodyMutation =
  | { op: "bytes"; mutation: ByteMutation }
  | { op: "invalidUtf8"; at: number; sequence: number }
  | { op: "bom" }
  | { op: "whitespace"; before: string; after: string }
  | { op: "oversize"; size: number };

/** Byte sequences that are not UTF-8: a lone continuation, a truncated sequence, an overlong NUL, a surrogate, > U+10FFFF. */
const INVALID_UTF8 = [[0x80], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xfe, 0xff]];

export const bodyMutation: fc.Arbitrary<BodyMutation> = fc.oneof(
  { weight: 240, arbitrary: fc.record({ op: fc.constant("bytes"), mutation: byteMutation }) },
  {
    weight: 48,
    arbitrary: fc.record({
      op: fc.constant("invalidUtf8"),
      at: fc.nat(),
      sequence: fc.integer({ min: 0, max: INVALID_UTF8.length - 1 }),
    }),
  },
  { weight: 24, arbitrary: fc.constant({ op: "bom" as const }) },
  {
    weight: 24,
    arbitrary: fc.record({
      op: fc.constant("whitespace"),
      before: fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028"), maxLength: 8 }),
      after: fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u0000"), maxLength: 8 }),
    }),
  },
  // At the listener's 1 MiB limit (413 above it) and the Alibaba edge's 3 MiB: rare, as they are slow to send.
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("oversize"),
      size: fc.constantFrom(ONE_MIB - 1, ONE_MIB, ONE_MIB + 1, 3 * ONE_MIB, 3 * ONE_MIB + 1),
    }),
  },
);

export function mutateBody(body: Buffer, mutation: BodyMutation, context: MutationContext): Buffer {
  switch (mutation.op) {
    case "bytes":
      return mutateBytes(body, mutation.mutation, context);
    case "invalidUtf8": {
      const at = mutation.at % (body.length + 1);
      const sequence = Buffer.from(INVALID_UTF8[mutation.sequence] as number[]);
      return Buffer.concat([body.subarray(0, at), sequence, body.subarray(at)]);
    }
    case "bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    case "whitespace":
      return Buffer.concat([Buffer.from(mutation.before), body, Buffer.from(mutation.after)]);
    case "oversize":
      return Buffer.concat([body, Buffer.alloc(Math.max(0, mutation.size - body.length), 0x20)]);
  }
}
