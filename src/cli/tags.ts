import type { Command } from "commander";
import { DanluError } from "../errors.ts";
import { undoLastBatch } from "../tagging/backup.ts";
import { loadClipTokenizer, CLIP_CAPTION_TOKENS } from "../tagging/clip-tokens.ts";
import { sharedFirstTag } from "../tagging/edit/bake.ts";
import { applyToMatching } from "../tagging/edit/batch.ts";
import { formatCaption, parseTagList, type CaptionEntry } from "../tagging/edit/caption.ts";
import { readFolderCaptions, writeFolderCaptions } from "../tagging/edit/caption-files.ts";
import { compileTagRegex, filterEntries } from "../tagging/edit/filter.ts";
import { formatFrequencyTable, tagFrequency } from "../tagging/edit/frequency.ts";
import { applyTagEdit, type EditContext, type SortKey, type TagEdit } from "../tagging/edit/operations.ts";
import { registerTagsBake } from "./tags-bake.ts";
import { registerTagsEdit } from "./tags-edit.ts";
import {
  addEditOptions,
  addFilterOptions,
  buildFilter,
  collect,
  folderOptions,
  parseCount,
  type EditFlags,
  type FilterFlags,
} from "./tags-options.ts";

/** The number of fixed leading tags; says so when `auto` finds a trigger, so the rule is never hidden. */
export function resolveKeepFirst(flag: number | "auto", entries: readonly CaptionEntry[]): number {
  if (flag !== "auto") return flag;
  const trigger = sharedFirstTag(entries);
  if (trigger === null) return 0;
  process.stderr.write(
    `keeping the first tag "${trigger}" fixed: every caption starts with it, so it is taken as the trigger word (--keep-first 0 edits it too)\n`,
  );
  return 1;
}

/** Reads DIR, applies `makeEdit` to the filtered images, writes one undoable batch (or prints it). */
export async function runBatchEdit(
  dir: string,
  flags: EditFlags,
  operation: string,
  makeEdit: (entries: CaptionEntry[], keepFirst: number) => (tags: readonly string[]) => string[],
): Promise<void> {
  const entries = await readFolderCaptions(dir, folderOptions(flags));
  const keepFirst = resolveKeepFirst(flags.keepFirst, entries);
  const { matched, changed } = applyToMatching(entries, buildFilter(flags), makeEdit(entries, keepFirst));
  const before = new Map(entries.map((entry) => [entry.file, entry.tags]));
  if (flags.dryRun) {
    for (const entry of changed) {
      process.stdout.write(
        `${entry.file}\n  - ${formatCaption(before.get(entry.file) ?? [])}\n  + ${formatCaption(entry.tags)}\n`,
      );
    }
    process.stdout.write(`dry run: would change ${changed.length} of ${matched} matching images\n`);
    return;
  }
  const { batch } = await writeFolderCaptions(dir, changed, flags.ext, operation);
  const undo =
    batch === null ? "" : ` (backup ${String(batch).padStart(4, "0")}; undo: danlu tags undo ${dir})`;
  process.stdout.write(`changed ${changed.length} of ${matched} matching images${undo}\n`);
}

interface EditSpec {
  name: string;
  args: string;
  description: string;
  options?: (command: Command) => Command;
  edit: (args: string[], flags: EditFlags & Record<string, unknown>) => TagEdit;
}

const regexFlagsOf = (flags: FilterFlags) => (flags.ignoreCase ? "giu" : "gu");
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");

function requireTags(tags: string[], command: string): string[] {
  if (tags.length === 0)
    throw new DanluError(`tags ${command}: no tags given`, { hint: "list the tags after DIR" });
  return tags;
}

function replaceEdit(args: string[], flags: EditFlags & Record<string, unknown>): TagEdit {
  const pattern = flags.pattern as string | undefined;
  if (pattern !== undefined) {
    if (args.length > 0 || flags.with === undefined) {
      throw new DanluError("tags replace: --pattern takes --with TEXT and no OLD NEW arguments", {
        hint: 'e.g. danlu tags replace DIR --pattern "^(.*) eyes$" --with "$1-eyed"',
      });
    }
    return {
      kind: "replace",
      pattern: compileTagRegex(pattern, "--pattern", regexFlagsOf(flags)),
      replacement: String(flags.with),
    };
  }
  const [from, to] = args;
  if (from === undefined || to === undefined || args.length > 2) {
    throw new DanluError("tags replace: give OLD NEW (exact tags) or --pattern REGEX --with TEXT", {
      hint: 'quote tags with spaces: danlu tags replace DIR "long hair" "very long hair"',
    });
  }
  return {
    kind: "replace",
    pattern: new RegExp(`^${escapeRegExp(from.trim())}$`, "u"),
    replacement: to.replaceAll("$", "$$$$"),
  };
}

const SORT_KEYS: SortKey[] = ["alpha", "frequency", "length"];

const EDITS: EditSpec[] = [
  {
    name: "remove",
    args: "[tags...]",
    description: "remove tags (exact, or --pattern)",
    options: (c) =>
      c.option("--pattern <regex>", "also remove tags matching this regex (repeatable)", collect, []),
    edit: (args, flags) => {
      const patterns = (flags.pattern as string[]).map((p) =>
        compileTagRegex(p, "--pattern", regexFlagsOf(flags)),
      );
      if (args.length === 0 && patterns.length === 0) requireTags([], "remove");
      return { kind: "remove", tags: parseTagList(args), patterns };
    },
  },
  {
    name: "replace",
    args: "[old_and_new...]",
    description:
      "replace a tag: OLD NEW exactly, or --pattern REGEX --with TEXT ($1 for groups; commas make several tags)",
    options: (c) =>
      c
        .option("--pattern <regex>", "regex applied to each tag")
        .option("--with <text>", "replacement for --pattern"),
    edit: replaceEdit,
  },
  {
    name: "add",
    args: "<tags...>",
    description: "add tags the captions lack (at the back, or --front: right after the kept first tags)",
    options: (c) => c.option("--front", "add at the front", false),
    edit: (args, flags) => ({
      kind: "add",
      tags: requireTags(parseTagList(args), "add"),
      position: flags.front ? "front" : "back",
    }),
  },
  {
    name: "merge",
    args: "<tags...>",
    description: "replace several tags, where a caption has all of them, with one phrase (--into)",
    options: (c) => c.requiredOption("--into <phrase>", "the phrase that replaces them"),
    edit: (args, flags) => ({
      kind: "merge",
      tags: requireTags(parseTagList(args), "merge"),
      into: String(flags.into).trim(),
    }),
  },
  {
    name: "dedupe",
    args: "",
    description: "remove repeated tags (the first stays)",
    edit: () => ({ kind: "dedupe" }),
  },
  {
    name: "sort",
    args: "",
    description: "sort tags after the kept first ones",
    options: (c) =>
      c
        .option(
          "--by <key>",
          `${SORT_KEYS.join(" | ")} (frequency: most common in the folder first)`,
          "alpha",
        )
        .option("--reverse", "reverse the order", false),
    edit: (_args, flags) => {
      if (!SORT_KEYS.includes(flags.by as SortKey)) {
        throw new DanluError(`tags sort: --by ${String(flags.by)} is not one of ${SORT_KEYS.join(", ")}`);
      }
      return { kind: "sort", by: flags.by as SortKey, reverse: Boolean(flags.reverse) };
    },
  },
  {
    name: "front",
    args: "<tags...>",
    description: "move these tags (where present) to the front, after the kept first ones",
    edit: (args) => ({ kind: "front", tags: requireTags(parseTagList(args), "front") }),
  },
  {
    name: "truncate",
    args: "",
    description: "drop tags from the end until the caption fits N CLIP tokens (whole tags only)",
    options: (c) =>
      c.option("--tokens <n>", "CLIP tokens, start/end not counted", parseCount, CLIP_CAPTION_TOKENS),
    edit: (_args, flags) => ({ kind: "truncate", maxTokens: flags.tokens as number }),
  },
];

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
    await runBatchEdit(dir, flags, ["tags", spec.name, ...args].join(" "), (entries, keepFirst) => {
      const frequency = new Map(tagFrequency(entries).map((count) => [count.tag, count.images]));
      const context: EditContext = {
        keepFirst,
        frequency,
        countTokens: tokenizer && ((t) => tokenizer.countTokens(t)),
      };
      return (tagList) => applyTagEdit(tagList, edit, context);
    });
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
