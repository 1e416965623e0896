import { statSync } from "node:fs";
import { z } from "zod";
import { DanluError } from "../../errors.ts";
import { KNOWN_MODELS, type ModelKind } from "../../models-store/registry.ts";
import { TAG_DEFAULTS, tagDataset } from "../../tagging/tag-dataset.ts";
import { badParams, defineKind, hidePaths, progressHook } from "./common.ts";
import type { KindContext } from "./types.ts";

/** `danlu tag` as a job: the taggers and captioners are folders in the service's models folder (DATA/models). */

/** A tagger or captioner by folder name in DATA/models; never a path. */
export function serviceModel(
  ctx: KindContext,
  name: string,
  kind: ModelKind,
): { name: string; folder: string } {
  let folder: string;
  try {
    folder = ctx.paths.model(name);
  } catch (error) {
    if (!(error instanceof DanluError) || error.code !== "NOT_FOUND") throw error;
    const known = KNOWN_MODELS.filter((m) => m.kind === kind).map((m) => m.name);
    throw new DanluError(`${kind} '${name}' is not installed on this server`, {
      code: "MODEL_MISSING",
      hint: `an admin installs it into DATA/models (danlu models pull ${name} --dir DATA/models); known: ${known.join(", ")}`,
    });
  }
  if (!statSync(folder).isDirectory()) {
    throw badParams(
      kind === "tagger" ? "models" : "caption_model",
      `'${name}' is a file, not a ${kind} folder`,
      "name a model folder",
    );
  }
  return { name, folder };
}

export const tag = defineKind({
  name: "tag",
  summary:
    "caption every image of a dataset with WD taggers and/or a captioning model, writing IMAGE.txt (danlu tag)",
  usesEngine: false,
  params: z.strictObject({
    dataset: z.string().describe("the dataset to tag"),
    models: z
      .array(z.string())
      .default([])
      .describe(
        "WD taggers by folder name in the service's models folder (several are merged), e.g. wd-vit-tagger-v3",
      ),
    caption_model: z
      .string()
      .optional()
      .describe("a captioning model (transformers.js layout) by folder name; its sentence goes first"),
    caption_task: z
      .enum(["caption", "detailed", "more-detailed"])
      .default(TAG_DEFAULTS.captionTask)
      .describe("Florence-2 task"),
    general_threshold: z
      .number()
      .min(0)
      .optional()
      .describe(
        "general tags at or above this (unset: the model's precision=recall value, else 0.35; above 1: none)",
      ),
    character_threshold: z
      .number()
      .min(0)
      .optional()
      .describe("character tags at or above this (unset: 0.85)"),
    rating: z
      .enum(["none", "first", "last"])
      .default(TAG_DEFAULTS.rating)
      .describe("where the rating tag goes"),
    character_first: z
      .boolean()
      .default(TAG_DEFAULTS.characterFirst)
      .describe("character tags before general tags"),
    expand_characters: z
      .boolean()
      .default(TAG_DEFAULTS.expandCharacters)
      .describe("name_(series) becomes two tags: name, series"),
    underscores: z
      .boolean()
      .default(TAG_DEFAULTS.underscores)
      .describe("replace underscores by spaces (kaomoji such as ^_^ keep theirs)"),
    undesired: z
      .string()
      .default(TAG_DEFAULTS.undesired)
      .describe("tags never written, separated like the caption"),
    replace: z
      .string()
      .optional()
      .describe('tag replacements "source,target;source2,target2" (\\, and \\; escape)'),
    always_first: z
      .string()
      .default(TAG_DEFAULTS.alwaysFirst)
      .describe("tags moved to the front when present, in this order"),
    append: z
      .boolean()
      .default(TAG_DEFAULTS.append)
      .describe("add new tags to existing captions instead of overwriting"),
    separator: z.string().default(TAG_DEFAULTS.separator).describe("between tags in the caption"),
    caption_extension: z.string().default(TAG_DEFAULTS.captionExtension).describe("caption file extension"),
    batch_size: z.number().int().min(1).default(TAG_DEFAULTS.batchSize).describe("images per model run"),
    recursive: z
      .boolean()
      .default(TAG_DEFAULTS.recursive)
      .describe("also tag images in subfolders (not those starting with _ or .)"),
    reuse_probabilities: z
      .boolean()
      .default(TAG_DEFAULTS.reuseProbabilities)
      .describe(
        "use probabilities stored in manifest.json for unchanged images (new thresholds, no model run)",
      ),
  }),
  async run(p, ctx) {
    if (p.models.length === 0 && !p.caption_model) {
      throw badParams("models", "nothing to tag with", "name a WD tagger in models and/or a caption_model");
    }
    const dir = ctx.paths.dataset(p.dataset);
    ctx.stage("tagging");
    const { report, captioner } = await tagDataset(
      dir,
      {
        models: p.models,
        captionModel: p.caption_model,
        captionTask: p.caption_task,
        generalThreshold: p.general_threshold,
        characterThreshold: p.character_threshold,
        rating: p.rating,
        characterFirst: p.character_first,
        expandCharacters: p.expand_characters,
        underscores: p.underscores,
        undesired: p.undesired,
        replace: p.replace,
        alwaysFirst: p.always_first,
        append: p.append,
        separator: p.separator,
        captionExtension: p.caption_extension,
        batchSize: p.batch_size,
        recursive: p.recursive,
        reuseProbabilities: p.reuse_probabilities,
      },
      { resolveModel: async (name, kind) => serviceModel(ctx, name, kind), onProgress: progressHook(ctx) },
    );
    if (report.failed.length > 0 && report.written === 0) {
      throw new DanluError(`no image could be tagged (${report.failed.length} failed)`, {
        code: "TAG_FAILED",
        hint: hidePaths(ctx, report.failed[0]?.reason ?? "see the job's log"),
      });
    }
    const top = [...report.tagCounts].sort((a, b) => b[1] - a[1]).slice(0, 30);
    return {
      images: report.images,
      written: report.written,
      reused: report.reused,
      thresholds: report.thresholds,
      captioner,
      top_tags: Object.fromEntries(top),
      failed: report.failed.map((f) => ({ name: f.name, reason: hidePaths(ctx, f.reason) })),
    };
  },
});
