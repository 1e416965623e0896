import { InvalidArgumentError, type Command } from "commander";
import { DanluError } from "../errors.ts";
import { resolveModel } from "../models-store/store.ts";
import { TAG_DEFAULTS, tagDataset, type TagSettings } from "../tagging/tag-dataset.ts";
import type { TagFolderReport } from "../tagging/wd/tag-folder.ts";
import { positiveInt, startProgress } from "./data-options.ts";

type TagFlags = Omit<TagSettings, "models"> & { model: string[]; modelsDir?: string; json: boolean };

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
      TAG_DEFAULTS.captionTask,
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
      TAG_DEFAULTS.rating,
    )
    .option("--character-first", "character tags before general tags", false)
    .option("--expand-characters", "name_(series) becomes two tags: name, series", false)
    .option("--no-underscores", "keep underscores (default: replaced by spaces, except kaomoji such as ^_^)")
    .option("--undesired <tags>", "tags never written, separated like the caption", "")
    .option("--replace <pairs>", 'tag replacements "source,target;source2,target2" (\\, and \\; escape)')
    .option("--always-first <tags>", "tags moved to the front when present, in this order", "")
    .option("--append", "add new tags to existing captions instead of overwriting them", false)
    .option("--separator <text>", "between tags in the caption", TAG_DEFAULTS.separator)
    .option("--caption-extension <ext>", "caption file extension", TAG_DEFAULTS.captionExtension)
    .option("--batch-size <n>", "images per model run", positiveInt, TAG_DEFAULTS.batchSize)
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
      const progress = startProgress("tag");
      const { report, captioner } = await tagDataset(
        dir,
        { ...flags, models: flags.model },
        {
          resolveModel: (name, kind) => resolveModel(name, kind, flags.modelsDir),
          onProgress: progress.update,
        },
      ).finally(progress.stop);
      process.stdout.write((flags.json ? reportJson(report) : formatReport(report, captioner)) + "\n");
      if (report.failed.length > 0 && report.written === 0) process.exitCode = 1;
    });
}

function formatReport(report: TagFolderReport, captioner: string | null): string {
  const lines = [`tagged ${report.written} of ${report.images} images`];
  for (const t of report.thresholds)
    lines.push(`  ${t.name}: general >= ${t.general}, character >= ${t.character}`);
  if (captioner) lines.push(`  captions: ${captioner}`);
  if (report.reused > 0) lines.push(`  ${report.reused} image/tagger results reused from manifest.json`);
  const top = [...report.tagCounts].sort((a, b) => b[1] - a[1]).slice(0, 15);
  if (top.length > 0) lines.push(`most frequent: ${top.map(([tag, n]) => `${tag} (${n})`).join(", ")}`);
  for (const f of report.failed) lines.push(`skipped ${f.name}: ${f.reason}`);
  return lines.join("\n");
}

function reportJson(report: TagFolderReport): string {
  return JSON.stringify({ ...report, tagCounts: Object.fromEntries(report.tagCounts) }, null, 2);
}
