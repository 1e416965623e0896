import { join } from "node:path";
import { z } from "zod";
import { ARCHS } from "../../engine/spec.ts";
import { buildGenerateSpec, GEN_DEFAULTS as D, runGenerate } from "../../generate/gen.ts";
import { defineKind, engineHooks, fileRef, jobFileRef, resolveRef, runRelative } from "./common.ts";

/** `danlu gen` as a job: the images go to images/ in the job's folder; LoRAs are other jobs' files. */

const int = (min: number) => z.number().int().min(min);

export const gen = defineKind({
  name: "gen",
  summary:
    "generate images with a base model, LoRAs and an A1111-style prompt, txt2img or img2img (danlu gen)",
  usesEngine: true,
  params: z.strictObject({
    model: z
      .string()
      .describe("the base model: a file (or diffusers folder) name in the service's models folder"),
    prompt: z
      .string()
      .describe("the prompt, A1111 syntax: (word:1.2), [word], BREAK, <lora:NAME:0.8> for a listed LoRA"),
    negative: z.string().default(D.negative).describe("the negative prompt"),
    loras: z
      .array(
        jobFileRef.extend({
          weight: z.number().default(1).describe("the LoRA's weight"),
        }),
      )
      .default([])
      .describe(
        "LoRA/LyCORIS files of your jobs to apply; <lora:NAME> in the prompt finds them by file name too",
      ),
    sampler: z.string().default(D.sampler).describe("A1111 sampler name, e.g. 'DPM++ 2M Karras', 'Euler a'"),
    steps: int(1).default(D.steps).describe("sampling steps"),
    cfg: z.number().default(D.cfg).describe("CFG scale"),
    width: int(8).default(D.width).describe("image width in px (multiple of 8)"),
    height: int(8).default(D.height).describe("image height in px (multiple of 8)"),
    seed: int(-1).default(D.seed).describe("seed of the first image; image i gets seed+i (-1: random)"),
    batch_count: int(1).default(D.batchCount).describe("how many batches"),
    batch_size: int(1).default(D.batchSize).describe("images per batch (drawn together)"),
    clip_skip: int(1)
      .default(D.clipSkip)
      .describe("text encoder layers to skip from the end (2 for most anime models)"),
    init_image: fileRef.optional().describe("img2img: start from this image (resized to width x height)"),
    strength: z
      .number()
      .min(0)
      .max(1)
      .default(D.strength)
      .describe("img2img denoising: 0 keeps the image, 1 replaces it"),
    arch: z.enum(ARCHS).optional().describe("the model's architecture (unset: detected)"),
    device: z.enum(["auto", "cpu", "cuda"]).default(D.device).describe("where to run"),
    precision: z.enum(["no", "fp16", "bf16"]).default(D.precision).describe("weights dtype (no = float32)"),
  }),
  async run(p, ctx) {
    const spec = buildGenerateSpec({
      model: ctx.paths.model(p.model),
      ...(p.arch ? { arch: p.arch } : {}),
      prompt: p.prompt,
      negative: p.negative,
      loras: p.loras.map((lora) => `${resolveRef(ctx, lora)}:${lora.weight}`),
      sampler: p.sampler,
      steps: p.steps,
      cfg: p.cfg,
      width: p.width,
      height: p.height,
      seed: p.seed,
      batchCount: p.batch_count,
      batchSize: p.batch_size,
      clipSkip: p.clip_skip,
      ...(p.init_image ? { initImage: resolveRef(ctx, p.init_image) } : {}),
      strength: p.strength,
      out: join(ctx.runDir, "images"),
      device: p.device,
      precision: p.precision,
    });
    const job = spec.jobs[0]!;
    ctx.stage("generating");
    const result = await runGenerate(
      spec,
      engineHooks(ctx, { total: () => job.batch_count * job.batch_size }).onEvent,
      { signal: ctx.signal },
    );
    return {
      images: result.outputs.map((path) => runRelative(ctx, path)),
      seed: job.seed,
      sampler: job.sampler,
      elapsed_s: result.elapsedS,
    };
  },
});
