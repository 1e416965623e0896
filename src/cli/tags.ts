import type { Command } from "commander";
import { undoLastBatch } from "../tagging/backup.ts";
import { loadClipTokenizer } from "../tagging/clip-tokens.ts";
import { formatCaption, type CaptionEntry } from "../tagging/edit/caption.ts";
import { readFolderCaptions } from "../tagging/edit/caption-files.ts";
import { filterEntries } from "../tagging/edit/filter.ts";
import { autoKeepFirst, editFolderCaptions, tagEditFunction } from "../tagging/edit/folder-edit.ts";
import { formatFrequencyTable, tagFrequency } from "../tagging/edit/frequency.ts";
import { registerTagsBake } from "./tags-bake.ts";
import { registerTagsEdit } from "./tags-edit.ts";
import { EDITS, type EditSpec } from "./tags-operations.ts";
import {
  addEditOptions,
  addFilterOptions,
  buildFilter,
  folderOptions,
  parseCount,
  type EditFlags,
  type FilterFlags,
} from "./tags-options.ts";

/** The number of fixed leading tags; says so when `auto` finds a trigger, so the rule is never hidden. */
export function resolveKeepFirst(flag: number | "auto", entries: readonly CaptionEntry[]): number {
  const { keepFirst, trigger } = autoKeepFirst(flag, entries);
  if (trigger !== null) sayTriggerKept(trigger);
  return keepFirst;
}

function sayTriggerKept(trigger: string): void {
  process.stderr.write(
    `keeping the first tag "${trigger}" fixed: every caption starts with it, so it is taken as the trigger word (--keep-first 0 edits it too)\n`,
  );
}

/** Reads DIR, applies `makeEdit` to the filtered images, writes one undoable batch (or prints it). */
export async function runBatchEdit(
  dir: string,
  flags: EditFlags,
  operation: string,
  makeEdit: (entries: CaptionEntry[], keepFirst: number) => (tags: readonly string[]) => string[],
): Promise<void> {
  const { matched, changes, trigger, batch } = await editFolderCaptions(dir, {
    folder: folderOptions(flags),
    filter: buildFilter(flags),
    keepFirst: flags.keepFirst,
    operation,
    dryRun: flags.dryRun,
    makeEdit,
  });
  if (trigger !== null) sayTriggerKept(trigger);
  if (flags.dryRun) {
    for (const change of changes) {
      process.stdout.write(
        `${change.file}\n  - ${formatCaption(change.before)}\n  + ${formatCaption(change.after)}\n`,
      );
    }
    process.stdout.write(`dry run: would change ${changes.length} of ${matched} matching images\n`);
    return;
  }
  const undo =
    batch === null ? "" : ` (backup ${String(batch).padStart(4, "0")}; undo: danlu tags undo ${dir})`;
  process.stdout.write(`changed ${changes.length} of ${matched} matching images${undo}\n`);
}

function registerEdit(tags: Command, spec: EditSpec): void {
  const command = tags
    .command(`${spec.name} <dir>${spec.args ? ` ${spec.args}` : ""}`)
    .description(spec.description);
  addEditOptions(spec.options ? spec.options(command) : command);
  command.action(async (dir: string, ...rest: unknown[]) => {
    const args = spec.args ? ((rest[0] as string[] | undefined) ?? []) : [];
    const flags = (spec.args ? rest[1] : rest[0]) as EditFlags & Record<string, unknown>;
    const edit = spec.edit(args, flags);
    const tokenizer = edit.kind === "truncate" ? loadClipTokenizer() : undefined;
    const countTokens = tokenizer && ((text: string) => tokenizer.countTokens(text));
    await runBatchEdit(dir, flags, ["tags", spec.name, ...args].join(" "), (entries, keepFirst) =>
      tagEditFunction(edit, entries, keepFirst, countTokens),
    );
  });
}

export function registerTags(program: Command): void {
  const tags = program
    .command("tags")
    .description(
      "read and batch-edit caption tags of a dataset folder (every write is backed up; see `tags undo`)",
    );

  addFilterOptions(tags.command("freq <dir>").description("tag frequency table of the (filtered) images"))
    .option("--json", "print JSON", false)
    .option("--top <n>", "only the N most frequent tags", parseCount)
    .action(async (dir: string, flags: FilterFlags & { json: boolean; top?: number }) => {
      const entries = filterEntries(await readFolderCaptions(dir, folderOptions(flags)), buildFilter(flags));
      const counts = tagFrequency(entries).slice(0, flags.top);
      process.stdout.write(
        flags.json
          ? JSON.stringify({ images: entries.length, tags: counts }, null, 2) + "\n"
          : formatFrequencyTable(counts, entries.length) + "\n",
      );
    });

  addFilterOptions(tags.command("filter <dir>").description("print the images the filter flags match"))
    .option("--json", "print JSON with each image's tags", false)
    .action(async (dir: string, flags: FilterFlags & { json: boolean }) => {
      const matching = filterEntries(await readFolderCaptions(dir, folderOptions(flags)), buildFilter(flags));
      process.stdout.write(
        flags.json
          ? JSON.stringify(matching, null, 2) + "\n"
          : matching.map((entry) => entry.file + "\n").join(""),
      );
    });

  for (const spec of EDITS) registerEdit(tags, spec);
  registerTagsBake(tags);
  registerTagsEdit(tags);

  tags
    .command("undo <dir>")
    .description("restore the caption files of the last batch of edits")
    .option("--force", "restore even files changed again since that batch", false)
    .action(async (dir: string, flags: { force: boolean }) => {
      const { journal, restored, removed } = await undoLastBatch(dir, flags);
      process.stdout.write(
        `undid batch ${journal.batch} (${journal.operation}, ${journal.created_at}): ${restored} restored, ${removed} removed\n`,
      );
    });
}
