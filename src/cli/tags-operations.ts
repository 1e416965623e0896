import type { Command } from "commander";
import { DanluError } from "../errors.ts";
import { CLIP_CAPTION_TOKENS } from "../tagging/clip-tokens.ts";
import { parseTagList } from "../tagging/edit/caption.ts";
import { compileTagRegex } from "../tagging/edit/filter.ts";
import { exactReplaceEdit } from "../tagging/edit/folder-edit.ts";
import type { SortKey, TagEdit } from "../tagging/edit/operations.ts";
import { collect, parseCount, type EditFlags, type FilterFlags } from "./tags-options.ts";

/** The batch edits of `danlu tags`: their arguments, flags, and the TagEdit each one builds. */

export interface EditSpec {
  name: string;
  args: string;
  description: string;
  options?: (command: Command) => Command;
  edit: (args: string[], flags: EditFlags & Record<string, unknown>) => TagEdit;
}

const regexFlagsOf = (flags: FilterFlags) => (flags.ignoreCase ? "giu" : "gu");

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
  return exactReplaceEdit(from, to);
}

const SORT_KEYS: SortKey[] = ["alpha", "frequency", "length"];

export const EDITS: EditSpec[] = [
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
