import { InvalidMarkerException } from "../domain/errors.js";

const MARKER_PREFIX = "trent1:";

/** Markers are opaque to clients: the sort key of the last item returned, encoded. */
export function encodeMarker(sortKey: string): string {
  return Buffer.from(MARKER_PREFIX + sortKey, "utf8").toString("base64url");
}

export function decodeMarker(marker: string | undefined): string | null {
  if (marker === undefined) return null;
  const decoded = Buffer.from(marker, "base64url").toString("utf8");
  if (!decoded.startsWith(MARKER_PREFIX) || encodeMarker(decoded.slice(MARKER_PREFIX.length)) !== marker) {
    throw new InvalidMarkerException("The marker is not valid; pass the NextMarker of a previous response.");
  }
  return decoded.slice(MARKER_PREFIX.length);
}

/** AWS accepts Limit up to the shape's maximum but returns at most the operation's documented maximum. */
export function pageSize(limit: number | undefined, defaultSize: number, maxSize: number): number {
  return Math.min(limit ?? defaultSize, maxSize);
}

export function pageOutput(next: string | null): { Truncated: boolean; NextMarker?: string } {
  return next === null ? { Truncated: false } : { Truncated: true, NextMarker: encodeMarker(next) };
}
