import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { layerFromTable } from "../../config/index.ts";
import { PORTRAIT_DEFAULTS as D, runPortrait } from "../../portrait/pipeline.ts";
import { SELECT_DEFAULTS } from "../../portrait/select.ts";
import { badParams, defineKind, progressHook } from "./common.ts";
import { serviceModel } from "./tagging.ts";
import { configProblem, PATH_KEYS } from "./train.ts";

/**
 * `danlu portrait` as a job: the photos are one of the user's datasets (POST /api/portraits uploads them
 * into a new one), the result folder is the job's own. The user's style templates, if any, are the
 * *.toml files in DATA/users/ID/styles. Each pipeline stage is a stage of the job's event stream.
 */

const int = (min: number) => z.number().int().min(min);

/** Keys the portrait run sets itself, besides the paths. */
const FIXED_KEYS = ["output_name", "trigger_word"];

export const portraitParams = z.strictObject({
  dataset: z.string().describe("the customer's photos: one of your datasets"),
  model: z.string().describe("the SD1.5 base model: a file or folder name in the service's models folder"),
  styles: z
    .array(z.string())
    .min(1)
    .optional()
    .describe("style names (GET /api/portraits/styles lists them; unset: every style)"),
  count: int(1).default(D.count).describe("portraits kept per style"),
  candidates: int(1).default(D.candidates).describe("images generated per style; the best `count` are kept"),
  trigger: z
    .string()
    .regex(/^[\w-]+$/u)
    .default(D.trigger)
    .describe("the trigger word the LoRA learns"),
  class: z
    .enum(["woman", "man", "person"])
    .optional()
    .describe("the class word (unset: from the tagger, else person)"),
  tagger: z.string().optional().describe("a WD tagger in the service's models folder, for the varying tags"),
  min_photos: int(1).default(SELECT_DEFAULTS.minPhotos).describe("fewest good photos to train on"),
  config: z
    .record(z.string(), z.unknown())
    .default({})
    // refused when the job is asked for (a 400 naming config.KEY), as the train kind's config is
    .superRefine((config, issues) => {
      for (const [key, value] of Object.entries(config)) {
        const problem = FIXED_KEYS.includes(key)
          ? { message: "is set by the portrait run", hint: "leave it out: the job names its files" }
          : configProblem(key, value);
        if (problem)
          issues.addIssue({ code: "custom", path: [key], message: `${problem.message} (${problem.hint})` });
      }
    })
    .describe("training settings over the portrait preset, by danlu/kohya key (no paths)"),
  gen_steps: int(1).optional().describe("sampling steps for every style (unset: each style's)"),
  width: int(64).optional().describe("image width for every style (unset: each style's)"),
  height: int(64).optional().describe("image height for every style (unset: each style's)"),
  seed: int(0).optional().describe("seed of each style's first candidate (unset: the style's)"),
  device: z.enum(["auto", "cpu", "cuda"]).default(D.device).describe("where to run"),
  precision: z.enum(["no", "fp16", "bf16"]).default(D.precision).describe("generation weights dtype"),
});
export type PortraitParams = z.infer<typeof portraitParams>;

export const portrait = defineKind({
  name: "portrait",
  summary:
    "selfies in, ranked portraits out: select, crop, caption, train a LoRA, generate each style, rank (danlu portrait)",
  usesEngine: true,
  params: portraitParams,
  async run(p, ctx) {
    for (const key of Object.keys(p.config)) {
      if (PATH_KEYS.includes(key) || FIXED_KEYS.includes(key)) {
        throw badParams(
          `config.${key}`,
          "is set by the portrait run",
          "leave it out: the job names its files",
        );
      }
    }
    const train = layerFromTable(p.config, { name: "config", where: (k) => `config.${k}`, base: null });
    const stylesDir = join(ctx.data.userDir(ctx.userId), "styles");
    const result = await runPortrait({
      sources: [ctx.paths.dataset(p.dataset)],
      out: ctx.runDir,
      model: ctx.paths.model(p.model),
      styles: p.styles,
      stylesDir: existsSync(stylesDir) ? stylesDir : undefined,
      count: p.count,
      candidates: p.candidates,
      trigger: p.trigger,
      className: p.class,
      tagger: p.tagger,
      resolveModel: async (name, kind) => serviceModel(ctx, name, kind),
      modelsDir: dirname(ctx.paths.model(p.model)), // a style's ControlNet models sit beside the base models
      train: { ...train, ...(p.device !== "auto" ? { device: p.device } : {}) },
      gen: { steps: p.gen_steps, width: p.width, height: p.height, seed: p.seed },
      device: p.device,
      precision: p.precision,
      select: { minPhotos: p.min_photos },
      signal: ctx.signal,
      onStage: (stage) => ctx.stage(stage),
      onProgress: progressHook(ctx),
      onLog: (line, level) => ctx.log(line, level),
      onEngineEvent: (event) => ctx.engineEvent(event),
    });
    // paths relative to the job's folder, as every kind's result gives them
    const { out: _out, ...rest } = result;
    return rest as unknown as Record<string, unknown>;
  },
});
