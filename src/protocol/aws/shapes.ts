import { SerializationException, ValidationException } from "../../domain/errors.js";
import kmsModel from "./kms-model.json" with { type: "json" };

interface ShapeRef {
  shape: string;
}

interface Shape {
  type: "structure" | "string" | "list" | "map" | "blob" | "integer" | "long" | "boolean" | "timestamp";
  required?: string[];
  members?: Record<string, ShapeRef>;
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  sensitive?: boolean;
}

export interface OperationModel {
  readonly input: string | null;
  readonly output: string | null;
  readonly errors: readonly string[];
}

const shapes = kmsModel.shapes as unknown as Record<string, Shape>;
export const OPERATIONS = kmsModel.operations as unknown as Record<string, OperationModel>;
export const TARGET_PREFIX = kmsModel.metadata.targetPrefix;

/** Thrown for a value of the wrong JSON type: AWS answers those with SerializationException. */
class WrongType extends Error {}

type Decoder = (value: unknown, path: string, problems: string[]) => unknown;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const decoders = new Map<string, Decoder>();

/** Compiles a shape into a decoder once; decoders are cached per shape name. */
function decoderFor(shapeName: string): Decoder {
  const cached = decoders.get(shapeName);
  if (cached) return cached;
  // Register a forwarder first so recursive shapes compile.
  let compiled: Decoder | undefined;
  decoders.set(shapeName, (v, p, e) => (compiled as Decoder)(v, p, e));
  compiled = compile(shapes[shapeName] as Shape);
  decoders.set(shapeName, compiled);
  return compiled;
}

/** A list as AWS's validation messages show it: `[a, b]`, cut short when long. */
function describeList(items: unknown[]): string {
  const text = `[${items.map((item) => (typeof item === "string" ? item : "...")).join(", ")}]`;
  return text.length > 256 ? `${text.slice(0, 253)}...` : text;
}

function describeValue(shape: Shape, value: unknown): string {
  if (shape.sensitive) return "Value";
  if (typeof value === "string") return `Value '${value}'`;
  if (value instanceof Uint8Array) return "Value";
  return `Value '${JSON.stringify(value)}'`;
}

function checkLength(shape: Shape, raw: unknown, length: number, path: string, problems: string[], unit: string): void {
  if (shape.min !== undefined && length < shape.min) {
    problems.push(
      `${describeValue(shape, raw)} at '${path}' failed to satisfy constraint: Member must have ${unit} greater than or equal to ${shape.min}`,
    );
  }
  if (shape.max !== undefined && length > shape.max) {
    problems.push(
      `${describeValue(shape, raw)} at '${path}' failed to satisfy constraint: Member must have ${unit} less than or equal to ${shape.max}`,
    );
  }
}

function memberPath(path: string, member: string): string {
  const name = member.charAt(0).toLowerCase() + member.slice(1);
  return path ? `${path}.${name}` : name;
}

function compile(shape: Shape): Decoder {
  switch (shape.type) {
    case "structure": {
      const members = Object.entries(shape.members ?? {}).map(([name, ref]) => ({
        name,
        decode: decoderFor(ref.shape),
      }));
      const known = new Set(members.map((m) => m.name));
      const required = shape.required ?? [];
      return (value, path, problems) => {
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw new WrongType(`Expected an object at '${path || "body"}'`);
        const input = value as Record<string, unknown>;
        for (const name of Object.keys(input)) {
          if (!known.has(name)) problems.push(`'${memberPath(path, name)}' is not a member of this request`);
        }
        const out: Record<string, unknown> = {};
        for (const member of members) {
          const raw = input[member.name];
          if (raw === undefined || raw === null) continue;
          out[member.name] = member.decode(raw, memberPath(path, member.name), problems);
        }
        for (const name of required) {
          if (out[name] === undefined)
            problems.push(
              `Value null at '${memberPath(path, name)}' failed to satisfy constraint: Member must not be null`,
            );
        }
        return out;
      };
    }
    case "string": {
      const pattern = shape.pattern === undefined ? undefined : new RegExp(shape.pattern, "u");
      const allowed = shape.enum === undefined ? undefined : new Set(shape.enum);
      return (value, path, problems) => {
        if (typeof value !== "string") throw new WrongType(`Expected a string at '${path}'`);
        checkLength(shape, value, value.length, path, problems, "length");
        if (pattern && !pattern.test(value)) {
          problems.push(
            `${describeValue(shape, value)} at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${shape.pattern}`,
          );
        }
        if (allowed && !allowed.has(value)) {
          problems.push(
            `${describeValue(shape, value)} at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [${shape.enum?.join(", ")}]`,
          );
        }
        return value;
      };
    }
    case "blob":
      return (value, path, problems) => {
        if (typeof value !== "string") throw new WrongType(`Expected a base64-encoded string at '${path}'`);
        if (!BASE64.test(value)) throw new WrongType(`Invalid base64 at '${path}'`);
        const bytes = Buffer.from(value, "base64");
        checkLength(shape, bytes, bytes.length, path, problems, "length");
        return bytes;
      };
    case "integer":
    case "long":
      return (value, path, problems) => {
        if (typeof value !== "number" || !Number.isSafeInteger(value))
          throw new WrongType(`Expected an integer at '${path}'`);
        if (shape.min !== undefined && value < shape.min) {
          problems.push(
            `Value '${value}' at '${path}' failed to satisfy constraint: Member must have value greater than or equal to ${shape.min}`,
          );
        }
        if (shape.max !== undefined && value > shape.max) {
          problems.push(
            `Value '${value}' at '${path}' failed to satisfy constraint: Member must have value less than or equal to ${shape.max}`,
          );
        }
        return value;
      };
    case "boolean":
      return (value, path) => {
        if (typeof value !== "boolean") throw new WrongType(`Expected a boolean at '${path}'`);
        return value;
      };
    case "timestamp":
      return (value, path) => {
        if (typeof value !== "number" || !Number.isFinite(value))
          throw new WrongType(`Expected a timestamp in epoch seconds at '${path}'`);
        return new Date(value * 1000);
      };
    case "list": {
      const decodeMember = decoderFor((shape.member as ShapeRef).shape);
      return (value, path, problems) => {
        if (!Array.isArray(value)) throw new WrongType(`Expected a list at '${path}'`);
        // Members first: a wrong member type is a SerializationException, and the length message
        // then describes decoded values, never the raw (possibly deeply nested) input.
        const decoded = value.map((item, i) => {
          if (item === null) throw new WrongType(`Null list member at '${path}.${i + 1}.member'`);
          return decodeMember(item, `${path}.${i + 1}.member`, problems);
        });
        checkLength(shape, describeList(decoded), decoded.length, path, problems, "length");
        return decoded;
      };
    }
    case "map": {
      const decodeKey = decoderFor((shape.key as ShapeRef).shape);
      const decodeValue = decoderFor((shape.value as ShapeRef).shape);
      return (value, path, problems) => {
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw new WrongType(`Expected a map at '${path}'`);
        const out: Record<string, unknown> = Object.create(null);
        const entries = Object.entries(value as Record<string, unknown>);
        checkLength(shape, value, entries.length, path, problems, "length");
        for (const [key, item] of entries) {
          if (item === null) throw new WrongType(`Null map value at '${path}'`);
          out[decodeKey(key, `${path}.key`, problems) as string] = decodeValue(item, `${path}.value`, problems);
        }
        return out;
      };
    }
  }
}

/**
 * Decodes a parsed JSON request body against an operation's input shape: base64 blobs become
 * bytes, timestamps Dates; every constraint of the model is checked, and all violations are
 * reported together as AWS does.
 */
export function decodeInput(inputShape: string | null, body: unknown): Record<string, unknown> {
  if (inputShape === null) return {};
  const problems: string[] = [];
  let decoded: unknown;
  try {
    decoded = decoderFor(inputShape)(body, "", problems);
  } catch (error) {
    if (error instanceof WrongType) throw new SerializationException(error.message);
    throw error;
  }
  if (problems.length > 0) {
    const count =
      problems.length === 1 ? "1 validation error detected" : `${problems.length} validation errors detected`;
    throw new ValidationException(`${count}: ${problems.join("; ")}`);
  }
  return decoded as Record<string, unknown>;
}

/** Turns an operation's output into its JSON wire form: bytes → base64, Dates → epoch seconds. */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = toWire(item);
    return out;
  }
  return value;
}

/** Zeroes every byte buffer in an operation's output once it has been serialized: plaintext keys do not linger. */
export function wipeBytes(value: unknown): void {
  if (value instanceof Uint8Array) value.fill(0);
  else if (Array.isArray(value)) for (const item of value) wipeBytes(item);
  else if (typeof value === "object" && value !== null && !(value instanceof Date)) {
    for (const item of Object.values(value)) wipeBytes(item);
  }
}
