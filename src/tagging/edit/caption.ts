/**
 * A caption is a list of tags: the caption file's text split on commas (and line breaks, which kohya
 * would otherwise cut the caption at), each tag trimmed, empty ones dropped. Written back as one line
 * joined with ", ".
 *
 * The trigger rule: every batch edit takes `keepFirst`, the number of leading tags that are fixed (the
 * trigger word, kohya's `keep_tokens`). Fixed tags are never removed, replaced, merged, sorted, moved
 * or truncated away; tags added "at the front" go right after them.
 */

export interface CaptionEntry {
  /** The image's path relative to the dataset folder (the caption file has the same stem). */
  file: string;
  tags: string[];
}

export function parseCaption(text: string): string[] {
  return text
    .split(/[,\n\r]/u)
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}

export function formatCaption(tags: readonly string[]): string {
  return tags.join(", ");
}

/** Splits tags into the fixed leading ones and the editable rest. */
export function splitKept(tags: readonly string[], keepFirst: number): { kept: string[]; rest: string[] } {
  const count = Math.max(0, Math.min(keepFirst, tags.length));
  return { kept: tags.slice(0, count), rest: tags.slice(count) };
}

/** Parses tag lists given on the command line: each argument may itself be a comma-separated list. */
export function parseTagList(values: readonly string[]): string[] {
  return values.flatMap((value) => parseCaption(value));
}

export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}
