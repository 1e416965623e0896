import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { DanluError } from "../errors.ts";

/** Names users give (datasets, uploads): letters, digits, CJK, '.', '_', '-', ' ' ; no '..', no separators. */
const NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_. -]{0,99}$/u;

/** Checks a user-chosen name (dataset, file); throws NOT_FOUND-free BAD_NAME naming the field. */
export function checkName(name: string, field: string): string {
  if (!NAME.test(name) || name.includes("..") || name.endsWith(" ") || name.endsWith(".")) {
    throw new DanluError(`${field} '${name}' is not a valid name`, {
      code: "BAD_NAME",
      hint: "use 1-100 letters, digits, '_', '-', '.' or spaces, starting with a letter, digit or '_'",
    });
  }
  return name;
}

/** Turns an uploaded file name into a safe one: the last path part, odd characters replaced by '_'. */
export function sanitizeFileName(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? "";
  const cleaned = last
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}_. -]/gu, "_")
    .replace(/^[. ]+/, "")
    .slice(0, 120);
  return cleaned === "" ? "file" : cleaned;
}

function isInside(base: string, target: string): boolean {
  const rel = relative(base, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * `rel` (a relative path from a request) joined to `base`, refused when it leaves `base` lexically or,
 * for what already exists, through a symlink. Throws NOT_FOUND (the API answers 404), never says why.
 */
export function safeJoin(base: string, rel: string, what = "file"): string {
  const root = resolve(base);
  const target = resolve(root, rel);
  if (rel.includes("\0") || isAbsolute(rel) || !isInside(root, target)) throw notFound(what, rel);
  if (existsSync(target)) {
    const realRoot = existsSync(root) ? realpathSync(root) : root;
    if (!isInside(realRoot, realpathSync(target))) throw notFound(what, rel);
  }
  return target;
}

export function notFound(what: string, name: string): DanluError {
  return new DanluError(`${what} '${name}' not found`, { code: "NOT_FOUND" });
}
