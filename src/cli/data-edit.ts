import { InvalidArgumentError, Option, type Command } from "commander";
import { CROP_DEFAULTS, cropDataset } from "../dataset/crop/index.ts";
import { parseAspect, type AspectChoice, type CropMode, type MultiPolicy } from "../dataset/crop/region.ts";
import type { RgbBackground } from "../dataset/images.ts";
import { upscaleDataset } from "../dataset/upscale/index.ts";
import { matteDataset } from "../dataset/upscale/matte.ts";
import { parseColour, positiveInt, startProgress } from "./data-options.ts";

/** `danlu data crop|upscale|matte DIR --out DIR2`: each writes a new folder and leaves DIR untouched. */
export function registerDataEdit(data: Command): void {
  registerCrop(data);
  registerUpscale(data);
  registerMatte(data);
}

interface CropFlags {
  out: string;
  mode: CropMode;
  margin: number;
  aspect: AspectChoice;
  multi: MultiPolicy;
  json: boolean;
}

function registerCrop(data: Command): void {
  data
    .command("crop")
    .description("crop each image to its subject (face, upper body or person) at a bucket-friendly aspect")
    .argument("<dir>", "dataset folder")
    .requiredOption("--out <dir>", "folder for the crops (captions are copied)")
    .addOption(
      new Option("--mode <mode>", "subject")
        .choices(["face", "upper-body", "person"])
        .default(CROP_DEFAULTS.mode),
    )
    .option(
      "--margin <fraction>",
      "space around the subject, as a fraction of its size per side",
      nonNegative,
      CROP_DEFAULTS.margin,
    )
    .option(
      "--aspect <ratio>",
      "bucket (nearest SD bucket), or W:H such as 1:1, 2:3",
      aspectArg,
      CROP_DEFAULTS.aspect as AspectChoice,
    )
    .addOption(
      new Option("--multi <policy>", "several faces: crop the largest, or skip")
        .choices(["largest", "skip"])
        .default(CROP_DEFAULTS.multi),
    )
    .option("--json", "print the report as JSON", false)
    .action(async (dir: string, flags: CropFlags) => {
      const progress = startProgress("crop");
      const report = await cropDataset(dir, {
        outDir: flags.out,
        ...pick(flags),
        onProgress: progress.update,
      }).finally(progress.stop);
      if (flags.json) return print(JSON.stringify(report, null, 2));
      const cropped = report.entries.filter((entry) => entry.status === "cropped").length;
      const lines = report.entries.map((entry) =>
        entry.status === "cropped"
          ? `cropped  ${entry.file} -> ${entry.output} (${entry.rect?.width}x${entry.rect?.height} at ${entry.rect?.left},${entry.rect?.top})`
          : `skipped  ${entry.file}: ${entry.reason}`,
      );
      print([...lines, `${cropped} of ${report.entries.length} cropped into ${report.outDir}`].join("\n"));
    });
}

function pick(flags: CropFlags) {
  return { mode: flags.mode, margin: flags.margin, aspect: flags.aspect, multi: flags.multi };
}

function registerUpscale(data: Command): void {
  data
    .command("upscale")
    .description("enlarge images whose short side is under the target, at most 2x (more smears detail)")
    .argument("<dir>", "dataset folder")
    .requiredOption("--out <dir>", "folder for the result (every image, enlarged or copied, with captions)")
    .option("--target <px>", "short side to reach", positiveInt, 512)
    .option("--model <file.onnx>", "super-resolution model (NCHW RGB 0..1 in and out); default: Lanczos")
    .option("--json", "print the report as JSON", false)
    .action(async (dir: string, flags: { out: string; target: number; model?: string; json: boolean }) => {
      const progress = startProgress("upscale");
      const report = await upscaleDataset(dir, {
        outDir: flags.out,
        target: flags.target,
        ...(flags.model ? { model: flags.model } : {}),
        onProgress: progress.update,
      }).finally(progress.stop);
      if (flags.json) return print(JSON.stringify(report, null, 2));
      for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
      const lines = report.entries.map((entry) => {
        const detail = entry.factor ? `${entry.factor.toFixed(2)}x` : (entry.reason ?? "");
        return `${entry.status.padEnd(8)}  ${entry.file} ${detail}${entry.factor && entry.reason ? ` (${entry.reason})` : ""}`;
      });
      print([...lines, `method: ${report.method}; written to ${report.outDir}`].join("\n"));
    });
}

function registerMatte(data: Command): void {
  data
    .command("matte")
    .description("remove backgrounds with your own ONNX matting model (none ships: bring one you may use)")
    .argument("<dir>", "dataset folder")
    .requiredOption("--out <dir>", "folder for the result")
    .requiredOption("--model <file.onnx>", "matting/segmentation model: NCHW RGB in, one alpha channel out")
    .option("--size <px>", "model input side when the model does not fix it", positiveInt, 1024)
    .addOption(
      new Option("--normalise <kind>", "input normalisation")
        .choices(["imagenet", "unit", "symmetric"])
        .default("imagenet"),
    )
    .option("--background <colour>", "flatten onto this colour (default: keep transparency)", parseColour)
    .action(
      async (
        dir: string,
        flags: {
          out: string;
          model: string;
          size: number;
          normalise: "imagenet";
          background?: RgbBackground;
        },
      ) => {
        const progress = startProgress("matte");
        const report = await matteDataset(dir, {
          outDir: flags.out,
          model: flags.model,
          size: flags.size,
          normalise: flags.normalise,
          ...(flags.background ? { background: flags.background } : {}),
          onProgress: progress.update,
        }).finally(progress.stop);
        const lines = report.entries.map(
          (entry) => `${entry.status.padEnd(7)}  ${entry.file}${entry.reason ? `: ${entry.reason}` : ""}`,
        );
        print([...lines, `written to ${report.outDir}`].join("\n"));
      },
    );
}

function aspectArg(text: string): AspectChoice {
  const aspect = parseAspect(text);
  if (aspect === undefined) throw new InvalidArgumentError("expected bucket or W:H (1:1, 2:3, 3:2 ...)");
  return aspect;
}

function nonNegative(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError("expected a number >= 0");
  return value;
}

function print(text: string): void {
  process.stdout.write(text + "\n");
}
