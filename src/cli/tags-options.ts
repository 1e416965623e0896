import { InvalidArgumentError, type Command } from "commander";
import { compileTagRegex, type TagFilter } from "../tagging/edit/filter.ts";
import { parseTagList } from "../tagging/edit/caption.ts";
import { DEFAULT_CAPTION_EXTENSION } from "../tagging/edit/caption-files.ts";

/** Flags shared by the `danlu tags` subcommands: which folder, which captions, which images. */

export interface FolderFlags {
  ext: string;
  recursive: boolean;
}
export interface FilterFlags extends FolderFlags {
  allOf: string[];
  anyOf: string[];
  noneOf: string[];
  regex: string[];
  ignoreCase: boolean;
}
export interface EditFlags extends FilterFlags {
  keepFirst: number | "auto";
  dryRun: boolean;
}

export const collect = (value: string, previous: string[]) => [...previous, value];

export function parseCount(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError("expected a whole number >= 0");
  return number;
}

export const folderOptions = (flags: FolderFlags) => ({ extension: flags.ext, recursive: flags.recursive });

export function addFolderOptions(command: Command): Command {
  return command
    .option("--ext <extension>", "caption file extension", DEFAULT_CAPTION_EXTENSION)
    .option("-r, --recursive", "also read subfolders (a kohya train_data_dir)", false);
}

export function addFilterOptions(command: Command): Command {
  return addFolderOptions(command)
    .option("--all-of <tags>", "only images with all these tags (comma-separated, repeatable)", collect, [])
    .option("--any-of <tags>", "only images with at least one of these tags (repeatable)", collect, [])
    .option("--none-of <tags>", "only images with none of these tags (repeatable)", collect, [])
    .option(
      "--regex <pattern>",
      "only images with a tag matching this JavaScript regex (repeatable)",
      collect,
      [],
    )
    .option("-i, --ignore-case", "--regex and --pattern ignore case", false);
}

export function addEditOptions(command: Command): Command {
  return addFilterOptions(command)
    .option(
      "--keep-first <n>",
      "leading tags never edited (the trigger word): a number, or auto = 1 when every caption starts with the same tag",
      (value: string) => (value === "auto" ? "auto" : parseCount(value)),
      "auto",
    )
    .option("-n, --dry-run", "print what would change, write nothing", false);
}

export function buildFilter(flags: FilterFlags): TagFilter {
  const regexFlags = flags.ignoreCase ? "iu" : "u";
  return {
    allOf: parseTagList(flags.allOf),
    anyOf: parseTagList(flags.anyOf),
    noneOf: parseTagList(flags.noneOf),
    regex: flags.regex.map((source) => compileTagRegex(source, "--regex", regexFlags)),
  };
}
