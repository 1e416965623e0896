import { join } from "node:path";
import { z } from "zod";
import { applyFixes, type FixAction } from "../../dataset/check/fix.ts";
import { CHECK_DEFAULTS, checkDataset } from "../../dataset/check/index.ts";
import { writeContactSheet } from "../../dataset/check/sheet.ts";
import { CROP_DEFAULTS, cropDataset } from "../../dataset/crop/index.ts";
import { parseAspect } from "../../dataset/crop/region.ts";
import { DEFAULT_MAX_PIXELS, parseBackground } from "../../dataset/images.ts";
import { DEFAULT_ZIP_LIMITS, importImages } from "../../dataset/import/index.ts";
import { badParams, defineKind, fileRef, progressHook, resolveRef, userRelative } from "./common.ts";

/** `danlu data import|check|crop` as jobs; the layout kind is in dataset-layout.ts. */

const positive = () => z.number().int().positive();

export const dataImport = defineKind({
  name: "data-import",
  summary:
    "copy images (folders, files, .zip archives) into one clean dataset: 8-bit sRGB PNGs + captions + manifest.json (danlu data import)",
  usesEngine: false,
  params: z.strictObject({
    sources: z
      .array(fileRef)
      .min(1)
      .describe(
        "what to import: your datasets or files in them (images, .zip archives), or your jobs' files",
      ),
    out: z.string().describe("the dataset to create or add to"),
    background: z
      .string()
      .default("white")
      .describe("colour for transparent pixels: white, black, gray or #rrggbb"),
    max_pixels: positive()
      .default(DEFAULT_MAX_PIXELS)
      .describe("decompression-bomb guard: most pixels per image"),
    max_zip_bytes: positive()
      .default(DEFAULT_ZIP_LIMITS.maxTotalBytes)
      .describe("zip-bomb guard: most uncompressed bytes per archive"),
    max_zip_entries: positive()
      .default(DEFAULT_ZIP_LIMITS.maxEntries)
      .describe("zip-bomb guard: most entries per archive"),
  }),
  async run(p, ctx) {
    const background = parseBackground(p.background);
    if (!background)
      throw badParams("background", `'${p.background}' is not a colour`, "white, black, gray or #rrggbb");
    const sources = p.sources.map((ref) => resolveRef(ctx, ref));
    const outDir = ctx.paths.newDataset(p.out);
    ctx.stage("importing");
    const report = await importImages(sources, {
      outDir,
      background,
      maxPixels: p.max_pixels,
      zipLimits: { ...DEFAULT_ZIP_LIMITS, maxTotalBytes: p.max_zip_bytes, maxEntries: p.max_zip_entries },
      onProgress: progressHook(ctx),
    });
    const problems = report.entries
      .filter((entry) => entry.status !== "imported")
      .map((entry) => ({
        source: userRelative(ctx, entry.source),
        status: entry.status,
        ...(entry.reason ? { reason: entry.reason } : {}),
        ...(entry.file ? { file: entry.file } : {}),
      }));
    return { dataset: p.out, counts: report.counts, problems, seconds: report.seconds };
  },
});

export const dataCheck = defineKind({
  name: "data-check",
  summary:
    "flag small, stretched, blurry, duplicate and multi-person images; optionally move the bad ones to _rejected/ (danlu data check)",
  usesEngine: false,
  params: z.strictObject({
    dataset: z.string().describe("the dataset to check"),
    min_side: positive()
      .default(CHECK_DEFAULTS.minSide)
      .describe("flag images whose short side is under this (px)"),
    max_aspect: z
      .number()
      .positive()
      .default(CHECK_DEFAULTS.maxAspect)
      .describe("flag images longer than this many times their width"),
    blur_threshold: z
      .number()
      .positive()
      .default(CHECK_DEFAULTS.blurThreshold)
      .describe("flag sharpness (Laplacian variance at 512 px) under this"),
    duplicate_distance: positive()
      .default(CHECK_DEFAULTS.duplicateDistance)
      .describe("pHash Hamming distance (of 64) for near-duplicates"),
    people: z.boolean().default(CHECK_DEFAULTS.detectPeople).describe("detect faces and people (slower)"),
    fix: z
      .boolean()
      .default(false)
      .describe(
        "move the worse of each duplicate pair, blurry and unreadable images to the dataset's _rejected/",
      ),
    sheet: z.boolean().default(false).describe("also write a contact sheet (sheet.png in the job's folder)"),
  }),
  async run(p, ctx) {
    const dir = ctx.paths.dataset(p.dataset);
    ctx.stage("checking");
    const report = await checkDataset(dir, {
      minSide: p.min_side,
      maxAspect: p.max_aspect,
      blurThreshold: p.blur_threshold,
      duplicateDistance: p.duplicate_distance,
      detectPeople: p.people,
      onProgress: progressHook(ctx),
    });
    let sheet: string | null = null;
    if (p.sheet) {
      ctx.stage("contact sheet");
      await writeContactSheet(report, join(ctx.runDir, "sheet.png"));
      sheet = "sheet.png";
    }
    let fixes: FixAction[] = [];
    if (p.fix) {
      ctx.stage("fixing");
      fixes = await applyFixes(report);
    }
    const flagged = report.images
      .filter((image) => image.flags.length > 0)
      .map((image) => ({
        file: image.file,
        flags: image.flags,
        ...(image.duplicateOf ? { duplicate_of: image.duplicateOf } : {}),
      }));
    return { images: report.images.length, flagged, summary: report.summary, fixes, sheet };
  },
});

export const dataCrop = defineKind({
  name: "data-crop",
  summary:
    "crop each image to its subject (face, upper body or person) at a bucket-friendly aspect, into a new dataset (danlu data crop)",
  usesEngine: false,
  params: z.strictObject({
    dataset: z.string().describe("the dataset to crop (left untouched)"),
    out: z.string().describe("the new dataset for the crops (captions are copied)"),
    mode: z.enum(["face", "upper-body", "person"]).default(CROP_DEFAULTS.mode).describe("the subject"),
    margin: z
      .number()
      .min(0)
      .default(CROP_DEFAULTS.margin)
      .describe("space around the subject, as a fraction of its size per side"),
    aspect: z
      .string()
      .default(CROP_DEFAULTS.aspect)
      .describe("bucket (the nearest SD bucket), or W:H such as 1:1, 2:3"),
    multi: z
      .enum(["largest", "skip"])
      .default(CROP_DEFAULTS.multi)
      .describe("several faces: crop the largest, or skip the image"),
  }),
  async run(p, ctx) {
    const aspect = parseAspect(p.aspect);
    if (aspect === undefined)
      throw badParams("aspect", `'${p.aspect}' is not an aspect`, "bucket, or W:H such as 1:1, 2:3");
    const dir = ctx.paths.dataset(p.dataset);
    const outDir = ctx.paths.newDataset(p.out);
    ctx.stage("cropping");
    const report = await cropDataset(dir, {
      outDir,
      mode: p.mode,
      margin: p.margin,
      aspect,
      multi: p.multi,
      onProgress: progressHook(ctx),
    });
    const cropped = report.entries.filter((entry) => entry.status === "cropped").length;
    const skipped = report.entries
      .filter((entry) => entry.status === "skipped")
      .map((entry) => ({ file: entry.file, reason: entry.reason ?? "" }));
    return { dataset: p.out, cropped, skipped };
  },
});
