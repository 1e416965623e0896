import { InvalidArgumentError, Option, type Command } from "commander";
import { TRAIN_KEYS } from "../config/index.ts";
import { resolutionSchema } from "../config/special-keys.ts";
import type { Size } from "../dataset/buckets.ts";
import {
  DEFAULT_LAYOUT_EPOCHS,
  layoutDataset,
  parseConcepts,
  parseReg,
  parseRepeats,
} from "../dataset/layout/index.ts";
import { formatLayoutReport } from "../dataset/layout/report.ts";
import type { Arch } from "../engine/spec.ts";
import { normalizeCaptionExtension } from "../tagging/edit/caption-files.ts";

interface LayoutFlags {
  concept: string[];
  repeats: string[];
  reg?: string;
  regClass?: string;
  out: string;
  regOut?: string;
  ext: string;
  replace: boolean;
  epochs: number;
  batchSize: number;
  resolution: Size;
  arch: Arch;
  minBucket: number;
  maxBucket: number;
  bucketStep: number;
  bucketNoUpscale: boolean;
  json: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return number;
}

function parseResolution(value: string): Size {
  const parsed = resolutionSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('expected one side ("512") or "W,H", each >= 64');
  return parsed.data;
}

/** `danlu data layout`: registered on the `data` command by src/cli/data.ts. */
export function registerDataLayout(data: Command): void {
  data
    .command("layout")
    .description(
      "write a kohya train_data_dir ({repeats}_{name}/ per concept, hard links) and print steps and buckets",
    )
    .requiredOption(
      "--concept <name=dir>",
      "a concept: class tokens = folder of images (repeatable)",
      collect,
      [],
    )
    .option(
      "--repeats <name=n>",
      "repeats of a concept (repeatable; default: balanced, see below)",
      collect,
      [],
    )
    .option("--reg <[class=]dir>", "regularization images, written to --reg-out as 1_{class}/")
    .option("--reg-class <class>", "the class of the --reg images (or write --reg class=DIR)")
    .requiredOption(
      "--out <dir>",
      "the train_data_dir to write (new or empty, or an earlier layout with --replace)",
    )
    .option(
      "--reg-out <dir>",
      "the reg_data_dir to write, required with --reg: beside --out, not inside it (same rules as --out)",
    )
    .option("--ext <extension>", "caption file extension", TRAIN_KEYS.caption_extension.default)
    .option("--replace", "remove the folders of an earlier layout in --out (and --reg-out) first", false)
    .option("--epochs <n>", "epochs, for the step count", positiveInt, DEFAULT_LAYOUT_EPOCHS)
    .option(
      "--batch-size <n>",
      "batch size, for the step count",
      positiveInt,
      TRAIN_KEYS.train_batch_size.default,
    )
    .addOption(
      new Option("--resolution <px>", 'training size: one side or "W,H"')
        .argParser(parseResolution)
        .default(TRAIN_KEYS.resolution.default, "512"),
    )
    .addOption(
      new Option("--arch <arch>", "model family (bucket sides: 64 px units, 32 for sdxl)")
        .choices(["sd15", "sd2", "sdxl"])
        .default("sd15"),
    )
    .option("--min-bucket <px>", "smallest bucket side", positiveInt, TRAIN_KEYS.min_bucket_reso.default)
    .option("--max-bucket <px>", "largest bucket side", positiveInt, TRAIN_KEYS.max_bucket_reso.default)
    .option(
      "--bucket-step <px>",
      "bucket sides are multiples of this",
      positiveInt,
      TRAIN_KEYS.bucket_reso_steps.default,
    )
    .option("--bucket-no-upscale", "no predefined buckets: crop small images, never enlarge them", false)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      "\nRepeats not given are balanced: each concept aims at the same images x repeats per epoch, the\n" +
        "largest among the given ones, else max(200, the largest concept's image count).\n\n" +
        "Regularization images go to their own reg_data_dir, as sd-scripts reads them (a folder inside\n" +
        "train_data_dir would not count as regularization). The kohya_ss project layout:\n" +
        '  danlu data layout --concept "ohwx woman=photos/alice" --reg woman=photos/women \\\n' +
        "      --out project/img --reg-out project/reg\n" +
        "  danlu train ... --train-data-dir project/img --reg-data-dir project/reg   (printed at the end)",
    )
    .action(async (flags: LayoutFlags) => {
      const concepts = parseConcepts(flags.concept);
      const result = await layoutDataset({
        concepts,
        repeats: parseRepeats(flags.repeats, concepts),
        reg: flags.reg === undefined ? null : parseReg(flags.reg, flags.regClass),
        out: flags.out,
        regOut: flags.regOut ?? null,
        captionExtension: normalizeCaptionExtension(flags.ext),
        replace: flags.replace,
        training: {
          arch: flags.arch,
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          resolution: flags.resolution,
          minBucketReso: flags.minBucket,
          maxBucketReso: flags.maxBucket,
          bucketResoSteps: flags.bucketStep,
          bucketNoUpscale: flags.bucketNoUpscale,
        },
      });
      process.stdout.write(
        (flags.json ? JSON.stringify(result, null, 2) : formatLayoutReport(result)) + "\n",
      );
    });
}
