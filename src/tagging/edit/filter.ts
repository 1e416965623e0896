import { DanluError } from "../../errors.ts";
import type { CaptionEntry } from "./caption.ts";

/**
 * Which images a batch edit touches. All given conditions must hold (AND); an empty filter matches
 * every image. Tags compare exactly (after trimming); a regex matches a tag when it finds a match
 * anywhere in it (anchor with ^...$ for whole tags).
 */
export interface TagFilter {
  /** Every one of these tags is present. */
  allOf?: readonly string[];
  /** At least one of these tags is present. */
  anyOf?: readonly string[];
  /** None of these tags is present. */
  noneOf?: readonly string[];
  /** Each pattern matches at least one tag. */
  regex?: readonly RegExp[];
}

export function matchesFilter(tags: readonly string[], filter: TagFilter): boolean {
  const present = new Set(tags);
  if (filter.allOf && !filter.allOf.every((tag) => present.has(tag))) return false;
  if (filter.anyOf?.length && !filter.anyOf.some((tag) => present.has(tag))) return false;
  if (filter.noneOf?.some((tag) => present.has(tag))) return false;
  if (filter.regex && !filter.regex.every((pattern) => tags.some((tag) => testWhole(pattern, tag)))) {
    return false;
  }
  return true;
}

export function filterEntries<T extends CaptionEntry>(entries: readonly T[], filter: TagFilter): T[] {
  return entries.filter((entry) => matchesFilter(entry.tags, filter));
}

export function isEmptyFilter(filter: TagFilter): boolean {
  return !filter.allOf?.length && !filter.anyOf?.length && !filter.noneOf?.length && !filter.regex?.length;
}

/** `pattern.test` without the lastIndex state a /g pattern carries between calls. */
export function testWhole(pattern: RegExp, tag: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(tag);
}

/** Compiles a user's regex (JavaScript syntax), naming the flag it came from when it is invalid. */
export function compileTagRegex(source: string, where: string, flags = "u"): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw new DanluError(`${where}: invalid regular expression ${JSON.stringify(source)}`, {
      hint: `${(error as Error).message}; the syntax is JavaScript's (groups are referenced as $1 in replacements)`,
      code: "BAD_REGEX",
    });
  }
}
