import { formatCaption, parseCaption, splitKept } from "./caption.ts";
import { compareText } from "./frequency.ts";
import { testWhole } from "./filter.ts";

/**
 * Batch tag edits, each a pure function of one caption's tags. The first `keepFirst` tags (the trigger
 * word) are fixed: no edit removes, rewrites or moves them (see caption.ts).
 */
export type TagEdit =
  | { kind: "remove"; tags: readonly string[]; patterns?: readonly RegExp[] }
  | { kind: "replace"; pattern: RegExp; replacement: string }
  | { kind: "add"; tags: readonly string[]; position: "front" | "back" }
  | { kind: "merge"; tags: readonly string[]; into: string }
  | { kind: "dedupe" }
  | { kind: "sort"; by: SortKey; reverse?: boolean }
  | { kind: "front"; tags: readonly string[] }
  | { kind: "truncate"; maxTokens: number };

export type SortKey = "alpha" | "frequency" | "length";

export interface EditContext {
  keepFirst: number;
  /** tag -> images with it, for sort by frequency */
  frequency?: ReadonlyMap<string, number>;
  /** CLIP token count of a caption text, for truncate */
  countTokens?: (text: string) => number;
}

export function applyTagEdit(tags: readonly string[], edit: TagEdit, context: EditContext): string[] {
  const { kept, rest } = splitKept(tags, context.keepFirst);
  switch (edit.kind) {
    case "remove":
      return [...kept, ...removeTags(rest, edit.tags, edit.patterns ?? [])];
    case "replace":
      return [...kept, ...replaceTags(kept, rest, edit.pattern, edit.replacement)];
    case "add":
      return addTags(kept, rest, edit.tags, edit.position);
    case "merge":
      return [...kept, ...mergeTags(kept, rest, edit.tags, edit.into)];
    case "dedupe":
      return removeDuplicates([...kept, ...rest]);
    case "sort":
      return [...kept, ...sortTags(rest, edit.by, edit.reverse ?? false, context.frequency)];
    case "front":
      return [...kept, ...moveToFront(rest, edit.tags)];
    case "truncate":
      return truncateToTokens(kept, rest, edit.maxTokens, requireCounter(context));
  }
}

function requireCounter(context: EditContext): (text: string) => number {
  if (!context.countTokens) throw new Error("truncate needs a CLIP token counter in the edit context");
  return context.countTokens;
}

export function removeTags(tags: readonly string[], remove: readonly string[], patterns: readonly RegExp[]) {
  const removed = new Set(remove);
  return tags.filter((tag) => !removed.has(tag) && !patterns.some((pattern) => testWhole(pattern, tag)));
}

/**
 * Rewrites each tag with `pattern` (JavaScript replacement syntax: $1, $<name>, $&). A result with
 * commas becomes several tags, an empty result removes the tag, and a result equal to a tag the caption
 * already has is dropped rather than duplicated.
 */
export function replaceTags(
  kept: readonly string[],
  tags: readonly string[],
  pattern: RegExp,
  replacement: string,
) {
  const rewritten = tags.map((tag) => {
    pattern.lastIndex = 0;
    const result = tag.replace(pattern, replacement);
    return result === tag ? null : parseCaption(result);
  });
  const present = new Set([...kept, ...tags.filter((_, i) => rewritten[i] === null)]);
  const output: string[] = [];
  tags.forEach((tag, i) => {
    const produced = rewritten[i];
    if (produced === null || produced === undefined) return void output.push(tag);
    for (const newTag of produced) {
      if (!present.has(newTag)) output.push(newTag);
      present.add(newTag);
    }
  });
  return output;
}

/** Adds the tags the caption lacks, at the front (after the fixed tags) or at the back, in the given order. */
export function addTags(
  kept: readonly string[],
  rest: readonly string[],
  add: readonly string[],
  position: "front" | "back",
) {
  const present = new Set([...kept, ...rest]);
  const missing = removeDuplicates(add.filter((tag) => !present.has(tag)));
  return position === "front" ? [...kept, ...missing, ...rest] : [...kept, ...rest, ...missing];
}

/**
 * When the caption has every one of `merge`, they become the single phrase `into`, placed where the
 * first of them stood. Captions with only some of them are left alone (half a merge changes meaning).
 */
export function mergeTags(
  kept: readonly string[],
  tags: readonly string[],
  merge: readonly string[],
  into: string,
) {
  const merging = new Set(merge);
  if (merging.size === 0 || ![...merging].every((tag) => tags.includes(tag))) return [...tags];
  const intoPresent = kept.includes(into) || tags.some((tag) => tag === into && !merging.has(tag));
  const output: string[] = [];
  let placed = intoPresent;
  for (const tag of tags) {
    if (!merging.has(tag)) output.push(tag);
    else if (!placed) {
      output.push(into);
      placed = true;
    }
  }
  return output;
}

/** Keeps the first occurrence of each tag. */
export function removeDuplicates(tags: readonly string[]): string[] {
  return [...new Set(tags)];
}

/**
 * Stable sort: alpha A-Z, frequency most common first (ties A-Z), length shortest first (ties keep their
 * order); `reverse` turns the order around.
 */
export function sortTags(
  tags: readonly string[],
  by: SortKey,
  reverse: boolean,
  frequency?: ReadonlyMap<string, number>,
) {
  const compare: Record<SortKey, (a: string, b: string) => number> = {
    alpha: compareText,
    frequency: (a, b) => (frequency?.get(b) ?? 0) - (frequency?.get(a) ?? 0) || compareText(a, b),
    length: (a, b) => a.length - b.length,
  };
  const sorted = [...tags].sort(compare[by]);
  return reverse ? sorted.reverse() : sorted;
}

/** Moves the listed tags that are present to the front, in the listed order. */
export function moveToFront(tags: readonly string[], front: readonly string[]) {
  const present = new Set(tags);
  const moved = removeDuplicates(front.filter((tag) => present.has(tag)));
  const movedSet = new Set(moved);
  return [...moved, ...tags.filter((tag) => !movedSet.has(tag))];
}

/**
 * Keeps whole tags from the front while the caption fits in `maxTokens` CLIP tokens (start and end
 * tokens not counted, so 75 is one CLIP chunk). The fixed tags are kept even when they alone exceed it.
 */
export function truncateToTokens(
  kept: readonly string[],
  rest: readonly string[],
  maxTokens: number,
  countTokens: (text: string) => number,
): string[] {
  const output = [...kept];
  for (const tag of rest) {
    if (countTokens(formatCaption([...output, tag])) > maxTokens) break;
    output.push(tag);
  }
  return output;
}
