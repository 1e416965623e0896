import { DanluError } from "../../errors.ts";
import { sameTags, type CaptionEntry } from "./caption.ts";
import { filterEntries, type TagFilter } from "./filter.ts";

/** What a batch edit did: the new tags of every caption it changed, and how many images it looked at. */
export interface BatchResult {
  matched: number;
  changed: CaptionEntry[];
}

/** Applies `edit` to each entry the filter matches; returns only the entries whose tags changed. */
export function applyToMatching(
  entries: readonly CaptionEntry[],
  filter: TagFilter,
  edit: (tags: readonly string[]) => string[],
): BatchResult {
  const matching = filterEntries(entries, filter);
  const changed: CaptionEntry[] = [];
  for (const entry of matching) {
    const tags = edit(entry.tags);
    if (!sameTags(tags, entry.tags)) changed.push({ file: entry.file, tags });
  }
  return { matched: matching.length, changed };
}

/** Per-image edit: the entries with `file`'s tags replaced (an unknown file is an error, not a new entry). */
export function setImageTags(
  entries: readonly CaptionEntry[],
  file: string,
  tags: readonly string[],
): BatchResult {
  const entry = entries.find((candidate) => candidate.file === file);
  if (!entry)
    throw new DanluError(`${file} is not an image of this dataset`, {
      hint: "give its path inside the folder",
    });
  const changed = sameTags(entry.tags, tags) ? [] : [{ file, tags: [...tags] }];
  return { matched: 1, changed };
}
