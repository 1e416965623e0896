import { Option, type Command } from "commander";
import { DEFAULT_MAX_PIXELS, type RgbBackground } from "../dataset/images.ts";
import { DEFAULT_ZIP_LIMITS, importImages } from "../dataset/import/index.ts";
import { formatImportReport } from "../dataset/import/report.ts";
import { registerDataCheck } from "./data-check.ts";
import { registerDataEdit } from "./data-edit.ts";
import { registerDataLayout } from "./data-layout.ts";
import { parseColour, positiveInt, startProgress, WHITE } from "./data-options.ts";

/** `danlu data`: import, check, crop, upscale and matte a dataset folder (layout registers itself). */
export function registerData(program: Command): void {
  const data = program
    .command("data")
    .description("prepare a dataset folder: import, check, crop, upscale, matte, layout");
  registerImport(data);
  registerDataCheck(data);
  registerDataEdit(data);
  registerDataLayout(data);
}

function registerImport(data: Command): void {
  data
    .command("import")
    .description(
      "copy images (folders, files, zip archives) into one clean dataset folder: 8-bit sRGB PNGs (lossless: no second JPEG generation) + UTF-8 captions + manifest.json",
    )
    .argument("<src...>", "folders (recursive), image files or .zip archives")
    .requiredOption("--out <dir>", "dataset folder to create or add to")
    .addOption(
      new Option("--background <colour>", "colour for transparent pixels (white, black, #rrggbb)")
        .argParser(parseColour)
        .default(WHITE, "white"),
    )
    .option(
      "--max-pixels <n>",
      "decompression-bomb guard: most pixels per image",
      positiveInt,
      DEFAULT_MAX_PIXELS,
    )
    .option(
      "--max-zip-bytes <n>",
      "zip-bomb guard: most uncompressed bytes per archive",
      positiveInt,
      DEFAULT_ZIP_LIMITS.maxTotalBytes,
    )
    .option(
      "--max-zip-entries <n>",
      "zip-bomb guard: most entries per archive",
      positiveInt,
      DEFAULT_ZIP_LIMITS.maxEntries,
    )
    .option("--jobs <n>", "images decoded at once (default: number of cores)", positiveInt)
    .option("--json", "print the report as JSON", false)
    .action(async (sources: string[], options: ImportFlags) => {
      const progress = startProgress("import");
      const report = await importImages(sources, {
        outDir: options.out,
        background: options.background,
        maxPixels: options.maxPixels,
        zipLimits: {
          ...DEFAULT_ZIP_LIMITS,
          maxTotalBytes: options.maxZipBytes,
          maxEntries: options.maxZipEntries,
        },
        ...(options.jobs ? { concurrency: options.jobs } : {}),
        onProgress: progress.update,
      }).finally(progress.stop);
      print(options.json ? JSON.stringify(report, null, 2) : formatImportReport(report));
    });
}

interface ImportFlags {
  out: string;
  background: RgbBackground;
  maxPixels: number;
  maxZipBytes: number;
  maxZipEntries: number;
  jobs?: number;
  json: boolean;
}

function print(text: string): void {
  process.stdout.write(text + "\n");
}
