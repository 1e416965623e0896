import type { Command } from "commander";
import { applyFixes, type FixAction } from "../dataset/check/fix.ts";
import { CHECK_DEFAULTS, checkDataset } from "../dataset/check/index.ts";
import { formatCheckReport } from "../dataset/check/report.ts";
import { writeContactSheet } from "../dataset/check/sheet.ts";
import { positiveInt, positiveNumber, startProgress } from "./data-options.ts";

interface CheckFlags {
  json: boolean;
  sheet?: string;
  fix: boolean;
  minSide: number;
  maxAspect: number;
  blurThreshold: number;
  duplicateDistance: number;
  people: boolean;
  jobs?: number;
}

/** `danlu data check DIR`: measure and flag every image; optionally draw a contact sheet and fix. */
export function registerDataCheck(data: Command): void {
  data
    .command("check")
    .description("flag small, stretched, blurry, duplicate and multi-person images; summarise what to fix")
    .argument("<dir>", "dataset folder (from danlu data import)")
    .option("--json", "print the report as JSON", false)
    .option("--sheet <file.png>", "also write a contact sheet: thumbnails with their flags")
    .option(
      "--fix",
      "move the worse of each duplicate pair, blurry and unreadable images to DIR/_rejected/",
      false,
    )
    .option(
      "--min-side <px>",
      "flag images whose short side is under this",
      positiveInt,
      CHECK_DEFAULTS.minSide,
    )
    .option(
      "--max-aspect <ratio>",
      "flag images longer than this many times their width",
      positiveNumber,
      CHECK_DEFAULTS.maxAspect,
    )
    .option(
      "--blur-threshold <n>",
      "flag sharpness (Laplacian variance at 512 px) under this",
      positiveNumber,
      CHECK_DEFAULTS.blurThreshold,
    )
    .option(
      "--duplicate-distance <bits>",
      "pHash Hamming distance (of 64) for near-duplicates",
      positiveInt,
      CHECK_DEFAULTS.duplicateDistance,
    )
    .option("--no-people", "skip face and person detection (faster)")
    .option("--jobs <n>", "images measured at once (default: number of cores)", positiveInt)
    .action(async (dir: string, flags: CheckFlags) => {
      const progress = startProgress("check");
      const report = await checkDataset(dir, {
        minSide: flags.minSide,
        maxAspect: flags.maxAspect,
        blurThreshold: flags.blurThreshold,
        duplicateDistance: flags.duplicateDistance,
        detectPeople: flags.people,
        ...(flags.jobs ? { concurrency: flags.jobs } : {}),
        onProgress: progress.update,
      }).finally(progress.stop);
      if (flags.sheet) await writeContactSheet(report, flags.sheet);
      const fixes: FixAction[] = flags.fix ? await applyFixes(report) : [];
      const text = flags.json
        ? JSON.stringify({ ...report, fixes }, null, 2)
        : formatCheckReport(report, fixes);
      process.stdout.write(text + "\n");
      if (flags.sheet && !flags.json) process.stdout.write(`contact sheet: ${flags.sheet}\n`);
    });
}
