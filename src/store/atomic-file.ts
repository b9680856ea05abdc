import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes one of the files Trent keeps beside its store (root key, credentials, ClientKey, TLS
 * material) so that a crash or power loss at any moment leaves it absent, or as it was, or
 * complete, never half-written: the content goes to a temporary file beside it and reaches the
 * disk before it is renamed into place (linked, with `exclusive`, which fails if the file exists).
 */
export function writeFileAtomically(
  file: string,
  content: string | Buffer,
  options: { readonly mode: number; readonly exclusive?: boolean },
): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, "w", options.mode);
    try {
      writeFileSync(fd, content);
      fchmodSync(fd, options.mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (options.exclusive) linkSync(temporary, file);
    else renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
  // The new directory entry must be on disk too, or the rename may not survive a power loss.
  const directory = openSync(dirname(file), "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}
