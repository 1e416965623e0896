import { sharedFirstTag } from "./bake.ts";
import { applyToMatching } from "./batch.ts";
import type { CaptionEntry } from "./caption.ts";
import { readFolderCaptions, writeFolderCaptions, type CaptionFolderOptions } from "./caption-files.ts";
import type { TagFilter } from "./filter.ts";
import { tagFrequency } from "./frequency.ts";
import { applyTagEdit, type EditContext, type TagEdit } from "./operations.ts";

/**
 * One batch edit of a dataset folder's captions, as `danlu tags <edit>` and the HTTP API both run it:
 * read the captions, resolve the fixed leading tags, edit the filtered images, write one undoable batch.
 */

export interface FolderEditRequest {
  folder: CaptionFolderOptions;
  filter: TagFilter;
  /** Leading tags never edited; `auto` = 1 when every caption starts with the same tag (the trigger). */
  keepFirst: number | "auto";
  /** Recorded in the backup journal (what `tags undo` names). */
  operation: string;
  /** Compute the changes, write nothing. */
  dryRun: boolean;
  /** The per-caption edit, built once the folder is read (a frequency sort needs the whole folder). */
  makeEdit: (entries: CaptionEntry[], keepFirst: number) => (tags: readonly string[]) => string[];
}

export interface FolderEditChange {
  file: string;
  before: string[];
  after: string[];
}

export interface FolderEditResult {
  /** Images the filter matched. */
  matched: number;
  changes: FolderEditChange[];
  keepFirst: number;
  /** Set when `auto` found a shared first tag and kept it fixed. */
  trigger: string | null;
  /** The backup batch written (null: nothing changed, or a dry run). */
  batch: number | null;
}

/** The number of fixed leading tags, and the trigger word `auto` found (so callers can say so). */
export function autoKeepFirst(
  flag: number | "auto",
  entries: readonly CaptionEntry[],
): { keepFirst: number; trigger: string | null } {
  if (flag !== "auto") return { keepFirst: flag, trigger: null };
  const trigger = sharedFirstTag(entries);
  return { keepFirst: trigger === null ? 0 : 1, trigger };
}

/** A TagEdit as a per-caption function, with the folder's tag frequency (sort) and a token counter (truncate). */
export function tagEditFunction(
  edit: TagEdit,
  entries: readonly CaptionEntry[],
  keepFirst: number,
  countTokens?: (text: string) => number,
): (tags: readonly string[]) => string[] {
  const frequency = new Map(tagFrequency(entries).map((count) => [count.tag, count.images]));
  const context: EditContext = { keepFirst, frequency, countTokens };
  return (tags) => applyTagEdit(tags, edit, context);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");

/** Replaces the tag `from` exactly (no pattern syntax in either) with `to`. */
export function exactReplaceEdit(from: string, to: string): TagEdit {
  return {
    kind: "replace",
    pattern: new RegExp(`^${escapeRegExp(from.trim())}$`, "u"),
    replacement: to.replaceAll("$", "$$$$"),
  };
}

/** Runs one batch edit over the folder (see FolderEditRequest). */
export async function editFolderCaptions(dir: string, request: FolderEditRequest): Promise<FolderEditResult> {
  const entries = await readFolderCaptions(dir, request.folder);
  const { keepFirst, trigger } = autoKeepFirst(request.keepFirst, entries);
  const { matched, changed } = applyToMatching(entries, request.filter, request.makeEdit(entries, keepFirst));
  const before = new Map(entries.map((entry) => [entry.file, entry.tags]));
  const changes = changed.map((entry) => ({
    file: entry.file,
    before: before.get(entry.file) ?? [],
    after: entry.tags,
  }));
  if (request.dryRun) return { matched, changes, keepFirst, trigger, batch: null };
  const { batch } = await writeFolderCaptions(dir, changed, request.folder.extension, request.operation);
  return { matched, changes, keepFirst, trigger, batch };
}
