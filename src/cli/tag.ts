import { InvalidArgumentError, type Command } from "commander";
import { DanluError } from "../errors.ts";
import { resolveModel } from "../models-store/store.ts";
import { loadCaptioner, type Captioner, type FlorenceTask } from "../tagging/caption/captioner.ts";
import { DEFAULT_FORMAT, type FormatOptions } from "../tagging/wd/select.ts";
import { tagFolder, type TagFolderReport } from "../tagging/wd/tag-folder.ts";
import { parseTagReplacements, splitTagList } from "../tagging/wd/tag-names.ts";
import { positiveInt, startProgress } from "./data-options.ts";

interface TagFlags {
  model: string[];
  captionModel?: string;
  captionTask: "caption" | "detailed" | "more-detailed";
  generalThreshold?: number;
  characterThreshold?: number;
  rating: FormatOptions["rating"];
  characterFirst: boolean;
  expandCharacters: boolean;
  underscores: boolean;
  undesired: string;
  replace?: string;
  alwaysFirst: string;
  append: boolean;
  separator: string;
  captionExtension: string;
  batchSize: number;
  recursive: boolean;
  reuseProbabilities: boolean;
  threads?: number;
  modelsDir?: string;
  json: boolean;
}

const FLORENCE_TASKS: Record<TagFlags["captionTask"], FlorenceTask> = {
  caption: "<CAPTION>",
  detailed: "<DETAILED_CAPTION>",
  "more-detailed": "<MORE_DETAILED_CAPTION>",
};

function threshold(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError("expected a number from 0 (above 1 turns the category off)");
  return value;
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (text: string): T => {
    if (!choices.includes(text as T)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}`);
    return text as T;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `danlu tag DIR --model NAME|PATH`: WD tags and/or natural-language captions for a dataset folder. */
export function registerTag(program: Command): void {
  program
    .command("tag")
    .description(
      "caption every image of a folder with WD taggers and/or a captioning model (writes IMAGE.txt)",
    )
    .argument("<dir>", "dataset folder (from danlu data import; other folders work too)")
    .option(
      "--model <name|path>",
      "WD tagger: a name from `danlu models list` or a folder (repeat to merge several)",
      collect,
      [],
    )
    .option(
      "--caption-model <name|path>",
      "captioning model folder (transformers.js layout); its sentence goes first",
    )
    .option(
      "--caption-task <task>",
      "Florence-2 task: caption, detailed, more-detailed",
      oneOf(["caption", "detailed", "more-detailed"] as const),
      "detailed",
    )
    .option(
      "--general-threshold <p>",
      "general tags at or above this (default: the model's precision=recall value, else 0.35)",
      threshold,
    )
    .option("--character-threshold <p>", "character tags at or above this (default 0.85)", threshold)
    .option(
      "--rating <where>",
      "rating tag: none, first, last",
      oneOf(["none", "first", "last"] as const),
      "none",
    )
    .option("--character-first", "character tags before general tags", false)
    .option("--expand-characters", "name_(series) becomes two tags: name, series", false)
    .option("--no-underscores", "keep underscores (default: replaced by spaces, except kaomoji such as ^_^)")
    .option("--undesired <tags>", "tags never written, separated like the caption", "")
    .option("--replace <pairs>", 'tag replacements "source,target;source2,target2" (\\, and \\; escape)')
    .option("--always-first <tags>", "tags moved to the front when present, in this order", "")
    .option("--append", "add new tags to existing captions instead of overwriting them", false)
    .option("--separator <text>", "between tags in the caption", ", ")
    .option("--caption-extension <ext>", "caption file extension", ".txt")
    .option("--batch-size <n>", "images per model run", positiveInt, 4)
    .option("--recursive", "also tag images in subfolders (not those starting with _ or .)", false)
    .option(
      "--reuse-probabilities",
      "use probabilities stored in manifest.json for unchanged images (new thresholds, no model run)",
      false,
    )
    .option("--threads <n>", "onnxruntime threads (default: number of cores)", positiveInt)
    .option("--models-dir <dir>", "model folder (default $DANLU_MODELS_DIR or ~/.cache/danlu/models)")
    .option("--json", "print the report as JSON", false)
    .action(async (dir: string, flags: TagFlags) => {
      if (flags.model.length === 0 && !flags.captionModel) {
        throw new DanluError("nothing to tag with", {
          hint: "pass --model wd-vit-tagger-v3 and/or --caption-model NAME (danlu models list shows what is installed)",
          code: "BAD_OPTION",
        });
      }
      const taggers = [];
      for (const model of flags.model) {
        const { name, folder } = await resolveModel(model, "tagger", flags.modelsDir);
        taggers.push({ name, folder, general: flags.generalThreshold, character: flags.characterThreshold });
      }
      const captioner = flags.captionModel ? await openCaptioner(flags) : undefined;
      const progress = startProgress("tag");
      const report = await tagFolder({
        dir,
        taggers,
        captioner,
        format: formatOptions(flags),
        separator: flags.separator,
        existing: flags.append ? "append" : "overwrite",
        captionExtension: flags.captionExtension,
        batchSize: flags.batchSize,
        recursive: flags.recursive,
        reuseProbabilities: flags.reuseProbabilities,
        threads: flags.threads,
        onProgress: progress.update,
      }).finally(async () => {
        progress.stop();
        await captioner?.dispose();
      });
      process.stdout.write((flags.json ? reportJson(report) : formatReport(report, captioner)) + "\n");
      if (report.failed.length > 0 && report.written === 0) process.exitCode = 1;
    });
}

async function openCaptioner(flags: TagFlags): Promise<Captioner> {
  const { name, folder } = await resolveModel(flags.captionModel ?? "", "captioner", flags.modelsDir);
  return loadCaptioner(folder, name, { task: FLORENCE_TASKS[flags.captionTask], threads: flags.threads });
}

function formatOptions(flags: TagFlags): FormatOptions {
  return {
    ...DEFAULT_FORMAT,
    rating: flags.rating,
    characterFirst: flags.characterFirst,
    expandCharacters: flags.expandCharacters,
    removeUnderscores: flags.underscores,
    undesired: new Set(splitTagList(flags.undesired, flags.separator)),
    replacements: flags.replace ? parseTagReplacements(flags.replace) : new Map(),
    alwaysFirst: splitTagList(flags.alwaysFirst, flags.separator),
  };
}

function formatReport(report: TagFolderReport, captioner: Captioner | undefined): string {
  const lines = [`tagged ${report.written} of ${report.images} images`];
  for (const t of report.thresholds)
    lines.push(`  ${t.name}: general >= ${t.general}, character >= ${t.character}`);
  if (captioner) lines.push(`  captions: ${captioner.name}`);
  if (report.reused > 0) lines.push(`  ${report.reused} image/tagger results reused from manifest.json`);
  const top = [...report.tagCounts].sort((a, b) => b[1] - a[1]).slice(0, 15);
  if (top.length > 0) lines.push(`most frequent: ${top.map(([tag, n]) => `${tag} (${n})`).join(", ")}`);
  for (const f of report.failed) lines.push(`skipped ${f.name}: ${f.reason}`);
  return lines.join("\n");
}

function reportJson(report: TagFolderReport): string {
  return JSON.stringify({ ...report, tagCounts: Object.fromEntries(report.tagCounts) }, null, 2);
}
