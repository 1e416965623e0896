import { isAbsolute, relative, resolve } from "node:path";

/**
 * A path as printed for a person: relative when it lies under the current folder (as it would have been
 * typed), absolute otherwise: never a `../../` walk that means nothing once the shell has moved on.
 */
export function shownPath(path: string, cwd = process.cwd()): string {
  const full = resolve(cwd, path);
  const rel = relative(cwd, full);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? full : rel;
}
