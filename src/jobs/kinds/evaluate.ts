import { z } from "zod";
import { DRAW_DEFAULTS, EVAL_DEFAULTS, runEval, runGrid } from "../../evaluate/index.ts";
import { defineKind, engineHooks, hidePaths, runRelative } from "./common.ts";
import type { KindContext } from "./types.ts";

/** `danlu grid` and `danlu eval` as jobs: a training job's folder in, images and reports in this job's folder. */

const drawParams = {
  name: z
    .string()
    .optional()
    .describe("which run, when several output names share the training job's folder"),
  device: z.enum(["auto", "cpu", "cuda"]).default(DRAW_DEFAULTS.device).describe("where to draw"),
  precision: z
    .enum(["no", "fp16", "bf16"])
    .default(DRAW_DEFAULTS.precision)
    .describe("weights while drawing (no: float32)"),
  clip_skip: z
    .number()
    .int()
    .min(1)
    .default(DRAW_DEFAULTS.clipSkip)
    .describe("CLIP layers to skip from the end (1 = none, 2 as A1111 anime models)"),
};

/** The training job's folder (`file` unset) or one LoRA file in it. */
function targetOf(ctx: KindContext, target: { job: string; file?: string | undefined }): string {
  return ctx.paths.jobFile(target.job, target.file ?? ".");
}

/** Images drawn so far of the total the plan announced, as the job's progress. */
function drawing(ctx: KindContext) {
  let total = 0;
  const hooks = engineHooks(ctx, { total: () => total });
  return { ...hooks, onPlan: (images: number) => (total = images) };
}

export const grid = defineKind({
  name: "grid",
  summary:
    "an X/Y(/Z) grid over saved epochs, LoRA weight, prompt, seed, sampler or CFG, drawn into labelled PNGs (danlu grid)",
  usesEngine: true,
  params: z.strictObject({
    target: z
      .strictObject({
        job: z.string().describe("a training job of yours"),
        file: z.string().optional().describe("one LoRA file of it (unset: the whole run, every saved epoch)"),
      })
      .describe("what to draw: a training job's run, or one LoRA file of a job (then model)"),
    x: z
      .string()
      .optional()
      .describe(
        "KIND=VALUES: epoch=all|1,3,final|base, weight=0.6,1, seed=1,2, cfg=5,7, sampler=Euler a|DDIM, prompt=a|b",
      ),
    y: z.string().optional().describe("the second axis (same forms as x)"),
    z: z.string().optional().describe("a third axis: one grid PNG per value"),
    model: z
      .string()
      .optional()
      .describe("draw with this base model from the models folder (unset: the run's)"),
    prompt: z.string().optional().describe("the prompt (unset: the run's first sample prompt)"),
    negative: z.string().optional().describe("negative prompt"),
    seed: z.number().int().optional().describe("fixed seed of every cell"),
    steps: z.number().int().min(1).optional().describe("sampling steps"),
    cfg: z.number().optional().describe("CFG scale"),
    sampler: z.string().optional().describe("A1111 sampler name, e.g. 'DPM++ 2M Karras'"),
    width: z.number().int().min(8).optional().describe("image width in px"),
    height: z.number().int().min(8).optional().describe("image height in px"),
    weight: z.number().optional().describe("LoRA weight when weight is not an axis"),
    ...drawParams,
  }),
  async run(p, ctx) {
    const { target, clip_skip, model, ...rest } = p;
    ctx.stage("drawing");
    const result = await runGrid({
      ...rest,
      target: targetOf(ctx, target),
      clipSkip: clip_skip,
      ...(model ? { model: ctx.paths.model(model) } : {}),
      out: ctx.runDir,
      ...drawing(ctx),
    });
    if (result.black.length > 0) {
      ctx.log(
        `${result.black.length} of ${result.plan.cells.length} images came out black (NaN values)`,
        "warning",
      );
    }
    const cells = result.plan.cells.map((cell) => {
      const image = result.images.get(cell.prefix)?.[0];
      return {
        x: cell.x,
        y: cell.y,
        z: cell.z,
        settings: cell.settings,
        image: image ? runRelative(ctx, image) : null,
      };
    });
    return { grids: result.grids.map((path) => runRelative(ctx, path)), cells };
  },
});

export const evaluate = defineKind({
  name: "eval",
  summary:
    "score every saved epoch of a training job (face identity, drift, loss) and write report.md + report.html recommending one (danlu eval)",
  usesEngine: true,
  params: z.strictObject({
    job: z.string().describe("a training job of yours"),
    seeds: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(EVAL_DEFAULTS.seeds)
      .describe("images per prompt for the identity and drift scores"),
    face: z
      .enum(["auto", "on", "off"])
      .default(EVAL_DEFAULTS.face)
      .describe("measure face identity: auto (when most training images show a face), on, off"),
    ...drawParams,
  }),
  async run(p, ctx) {
    ctx.stage("drawing");
    const { findings, report } = await runEval({
      runDir: targetOf(ctx, { job: p.job }),
      ...(p.name ? { name: p.name } : {}),
      out: ctx.runDir,
      seeds: p.seeds,
      face: p.face,
      clipSkip: p.clip_skip,
      device: p.device,
      precision: p.precision,
      ...drawing(ctx),
      onNote: (text) => ctx.log(hidePaths(ctx, text)),
    });
    const rec = findings.recommendation;
    return {
      recommendation: {
        ...rec,
        reason: hidePaths(ctx, rec.reason),
        caveats: rec.caveats.map((c) => hidePaths(ctx, c)),
      },
      face: findings.faceNote,
      scores: findings.scores,
      grids: findings.grids.map((path) => runRelative(ctx, path)),
      report: { markdown: runRelative(ctx, report.markdown), html: runRelative(ctx, report.html) },
    };
  },
});
