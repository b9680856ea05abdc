import { ValidationException } from "../../domain/errors.js";

/**
 * Reading a decoded instance-API request. proto3 cannot tell an unset field from its default, and
 * the SDKs leave defaults out, so "", 0 and empty bytes all mean "not given".
 */
export type AlibabaRequest = Readonly<Record<string, unknown>>;

export function optionalString(input: AlibabaRequest, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ValidationException(`The Param ${field} is invalid.`);
  return value;
}

export function requiredString(input: AlibabaRequest, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined) throw new ValidationException(`The Param ${field} is required.`);
  return value;
}

export function optionalBytes(input: AlibabaRequest, field: string): Uint8Array | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof Uint8Array)) throw new ValidationException(`The Param ${field} is invalid.`);
  return value.length === 0 ? undefined : value;
}

export function requiredBytes(input: AlibabaRequest, field: string): Uint8Array {
  const value = optionalBytes(input, field);
  if (value === undefined) throw new ValidationException(`The Param ${field} is required.`);
  return value;
}

/** An int32 field within [min, max], or `fallback` when not given. */
export function integerIn(input: AlibabaRequest, field: string, min: number, max: number, fallback?: number): number {
  const value = input[field];
  if (value === undefined || value === null || value === 0) {
    if (fallback === undefined) throw new ValidationException(`The Param ${field} is required.`);
    return fallback;
  }
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationException(`The Param ${field} is invalid: it must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/** The Aad of a request, empty when not given (GCM treats both alike). */
export function aadOf(input: AlibabaRequest): Uint8Array {
  return optionalBytes(input, "Aad") ?? new Uint8Array(0);
}

/** The instance API's only symmetric algorithm here: AES_GCM, its default. */
export function requireAesGcm(input: AlibabaRequest): "AES_GCM" {
  const algorithm = optionalString(input, "Algorithm") ?? "AES_GCM";
  if (algorithm !== "AES_GCM") {
    throw new ValidationException(`The Param Algorithm is invalid: ${algorithm} is not supported; use AES_GCM.`);
  }
  const padding = optionalString(input, "PaddingMode");
  if (padding !== undefined && padding !== "NO_PADDING") {
    throw new ValidationException(`The Param PaddingMode is invalid: AES_GCM takes no padding (${padding}).`);
  }
  return algorithm;
}

/** The instance API names keys by id; Trent's ARNs end in it. */
export function keyIdOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf("/") + 1);
}
