import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { DanluError } from "../errors.ts";
import { bakeTrigger, proposeTraitTags } from "../tagging/edit/bake.ts";
import { applyToMatching } from "../tagging/edit/batch.ts";
import { parseCaption, parseTagList } from "../tagging/edit/caption.ts";
import { readFolderCaptions, writeFolderCaptions } from "../tagging/edit/caption-files.ts";
import { filterEntries } from "../tagging/edit/filter.ts";
import { formatFrequencyTable } from "../tagging/edit/frequency.ts";
import { addFilterOptions, buildFilter, collect, folderOptions, type FilterFlags } from "./tags-options.ts";

interface BakeFlags extends FilterFlags {
  trigger: string;
  traits: string[];
  minShare: number;
  except: string[];
  yes: boolean;
}

const DEFAULT_MIN_SHARE_PERCENT = 60;

function parsePercent(value: string): number {
  const percent = Number(value);
  if (!(percent > 0 && percent <= 100))
    throw new DanluError(`--min-share ${value}: expected a percentage in (0, 100]`);
  return percent;
}

/** Asks a yes/no question on a terminal; anything but y/yes is no. */
export async function askYesNo(
  question: string,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<boolean> {
  const prompt = createInterface({ input, output, terminal: false });
  // End of input (Ctrl-D, a closed pipe) before a full line is a no, not a prompt left hanging.
  const closed = new Promise<string>((resolve) => prompt.once("close", () => resolve("")));
  try {
    const answer = await Promise.race([prompt.question(`${question} [y/N] `), closed]);
    return /^y(es)?$/iu.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** The traits to remove: the given list, or the proposal (after --except) once confirmed; null = cancelled. */
async function chooseTraits(flags: BakeFlags, images: Parameters<typeof proposeTraitTags>[0]) {
  const except = new Set(parseTagList(flags.except));
  if (flags.traits.length > 0) return parseTagList(flags.traits).filter((tag) => !except.has(tag));
  const proposal = proposeTraitTags(images, flags.minShare / 100, flags.trigger).filter(
    (c) => !except.has(c.tag),
  );
  process.stdout.write(
    `tags in at least ${flags.minShare}% of the images, proposed as fixed traits of "${flags.trigger}":\n` +
      (proposal.length > 0 ? formatFrequencyTable(proposal, images.length) : "  (none)") +
      "\n",
  );
  const question = `insert "${flags.trigger}" first and remove these ${proposal.length} tags from ${images.length} captions?`;
  if (flags.yes) return proposal.map((c) => c.tag);
  if (process.stdin.isTTY && process.stdout.isTTY) {
    return (await askYesNo(question)) ? proposal.map((c) => c.tag) : null;
  }
  process.stdout.write(
    "nothing changed: rerun with --yes to accept (--except TAGS to keep some), or give the list with --traits\n",
  );
  return null;
}

export function registerTagsBake(tags: Command): void {
  addFilterOptions(
    tags
      .command("bake <dir>")
      .description("put the trigger word first and remove the tags of the subject's fixed traits")
      .requiredOption("--trigger <word>", "the trigger word (one tag)")
      .option(
        "--traits <tags>",
        "the trait tags to remove (comma-separated, repeatable); default: propose",
        collect,
        [],
      )
      .option(
        "--min-share <percent>",
        "propose tags in at least this % of the images",
        parsePercent,
        DEFAULT_MIN_SHARE_PERCENT,
      )
      .option("--except <tags>", "never remove these tags (comma-separated, repeatable)", collect, [])
      .option("-y, --yes", "accept the proposal without asking", false),
  ).action(async (dir: string, flags: BakeFlags) => {
    const [trigger, ...extra] = parseCaption(flags.trigger);
    if (trigger === undefined || extra.length > 0) {
      throw new DanluError(`--trigger ${JSON.stringify(flags.trigger)} must be one tag`, {
        hint: "a trigger word contains no comma, e.g. --trigger ohwx",
      });
    }
    const entries = await readFolderCaptions(dir, folderOptions(flags));
    const filter = buildFilter(flags);
    const traits = await chooseTraits({ ...flags, trigger }, filterEntries(entries, filter));
    if (traits === null) return;
    const traitSet = new Set(traits);
    const { matched, changed } = applyToMatching(entries, filter, (t) => bakeTrigger(t, trigger, traitSet));
    const operation = `tags bake --trigger ${trigger} --traits ${traits.join(",")}`;
    const { batch } = await writeFolderCaptions(dir, changed, flags.ext, operation);
    process.stdout.write(
      `baked ${traits.length} trait tags into "${trigger}": changed ${changed.length} of ${matched} images` +
        (batch === null ? "\n" : ` (undo: danlu tags undo ${dir})\n`),
    );
  });
}
