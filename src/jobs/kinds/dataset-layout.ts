import { z } from "zod";
import { TRAIN_KEYS } from "../../config/index.ts";
import {
  DEFAULT_LAYOUT_EPOCHS,
  layoutDataset,
  parseConcepts,
  parseReg,
  parseRepeats,
} from "../../dataset/layout/index.ts";
import { normalizeCaptionExtension } from "../../tagging/edit/caption-files.ts";
import { badParams, defineKind, hidePaths } from "./common.ts";

/** `danlu data layout` as a job: concept datasets in, a kohya train_data_dir out (a new dataset). */

const side = z.number().int().min(64);

export const dataLayout = defineKind({
  name: "data-layout",
  summary:
    "write a kohya train_data_dir ({repeats}_{name}/ per concept, hard links) as a new dataset, with its steps and buckets (danlu data layout)",
  usesEngine: false,
  params: z.strictObject({
    concepts: z
      .array(
        z.strictObject({
          name: z
            .string()
            .describe("the concept's class tokens, e.g. 'ohwx woman' (the folder is {repeats}_{name})"),
          dataset: z.string().describe("your dataset with its images"),
        }),
      )
      .min(1)
      .describe("the concepts to train, each a dataset of images"),
    repeats: z
      .record(z.string(), z.number().int().min(1))
      .default({})
      .describe("repeats per concept name; the others are balanced (images x repeats alike, at least 200)"),
    reg: z
      .strictObject({
        class: z.string().describe("the class the concepts belong to, e.g. 'woman'"),
        dataset: z.string().describe("your dataset of regularization images"),
      })
      .optional()
      .describe("regularization images, written to reg_out as 1_{class}/"),
    out: z.string().describe("the new dataset to write: the train_data_dir the train job takes"),
    reg_out: z
      .string()
      .optional()
      .describe("the new dataset for the regularization images (required with reg)"),
    caption_extension: z
      .string()
      .default(TRAIN_KEYS.caption_extension.default ?? ".txt")
      .describe("caption file extension"),
    replace: z
      .boolean()
      .default(false)
      .describe("remove the folders of an earlier layout in out (and reg_out) first"),
    epochs: z.number().int().min(1).default(DEFAULT_LAYOUT_EPOCHS).describe("epochs, for the step count"),
    batch_size: z
      .number()
      .int()
      .min(1)
      .default(TRAIN_KEYS.train_batch_size.default ?? 1)
      .describe("batch size, for the step count"),
    resolution: z
      .union([side, z.tuple([side, side])])
      .default(TRAIN_KEYS.resolution.default ?? [512, 512])
      .describe("training size in px: one side, or [width, height]"),
    arch: z
      .enum(["sd15", "sd2", "sdxl"])
      .default("sd15")
      .describe("model family (bucket sides: 64 px units, 32 for sdxl)"),
    min_bucket: side.default(TRAIN_KEYS.min_bucket_reso.default ?? 256).describe("smallest bucket side (px)"),
    max_bucket: side.default(TRAIN_KEYS.max_bucket_reso.default ?? 1024).describe("largest bucket side (px)"),
    bucket_step: z
      .number()
      .int()
      .min(8)
      .default(TRAIN_KEYS.bucket_reso_steps.default ?? 64)
      .describe("bucket sides are multiples of this (px)"),
    bucket_no_upscale: z
      .boolean()
      .default(false)
      .describe("no predefined buckets: crop small images, never enlarge them"),
  }),
  async run(p, ctx) {
    if (p.reg && !p.reg_out)
      throw badParams("reg_out", "missing", "name a new dataset for the regularization images");
    if (!p.reg && p.reg_out)
      throw badParams("reg_out", "given without reg", "add reg: {class, dataset}, or leave reg_out out");
    // the library's parsers check names, duplicates and repeats exactly as the CLI's flags are checked
    const concepts = parseConcepts(p.concepts.map((c) => `${c.name}=${ctx.paths.dataset(c.dataset)}`));
    const repeats = parseRepeats(
      Object.entries(p.repeats).map(([name, n]) => `${name}=${n}`),
      concepts,
    );
    const reg = p.reg ? parseReg(ctx.paths.dataset(p.reg.dataset), p.reg.class) : null;
    const [width, height] = typeof p.resolution === "number" ? [p.resolution, p.resolution] : p.resolution;
    ctx.stage("writing the layout");
    const result = await layoutDataset({
      concepts,
      repeats,
      reg,
      out: ctx.paths.newDataset(p.out),
      regOut: p.reg_out ? ctx.paths.newDataset(p.reg_out) : null,
      captionExtension: normalizeCaptionExtension(p.caption_extension),
      replace: p.replace,
      training: {
        arch: p.arch,
        epochs: p.epochs,
        batchSize: p.batch_size,
        resolution: [width, height],
        minBucketReso: p.min_bucket,
        maxBucketReso: p.max_bucket,
        bucketResoSteps: p.bucket_step,
        bucketNoUpscale: p.bucket_no_upscale,
      },
    });
    const { stepsPerEpoch, totalSteps, numEpochs, batchSize, buckets } = result.plan;
    return {
      dataset: p.out,
      reg_dataset: p.reg_out ?? null,
      folders: result.folders,
      written: result.written,
      skipped: result.skipped.length,
      plan: {
        steps_per_epoch: stepsPerEpoch,
        total_steps: totalSteps,
        epochs: numEpochs,
        batch_size: batchSize,
        buckets,
      },
      warnings: result.warnings.map((warning) => hidePaths(ctx, warning)),
    };
  },
});
