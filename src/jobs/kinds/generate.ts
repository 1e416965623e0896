import { dirname, join } from "node:path";
import { z } from "zod";
import { ARCHS } from "../../engine/spec.ts";
import { MASKED_CONTENT } from "../../engine/spec-generate.ts";
import {
  buildGenerateSpec,
  GEN_DEFAULTS as D,
  HIRES_DEFAULTS as HR,
  INPAINT_DEFAULTS as IN,
  runGenerate,
} from "../../generate/gen.ts";
import { DETAIL_DEFAULTS as FD, DETAIL_MODEL, detailFaces } from "../../generate/detailer.ts";
import { HIRES_UPSCALERS } from "../../generate/upscalers.ts";
import { controlNetParams, controlNetOptionsOf } from "./generate-controlnet.ts";
import { defineKind, engineHooks, fileRef, jobFileRef, resolveRef, runRelative } from "./common.ts";

/** `danlu gen` as a job: the images go to images/ in the job's folder; LoRAs are other jobs' files. */

const int = (min: number) => z.number().int().min(min);

const inpaintParams = z.strictObject({
  mask: fileRef.describe("white = repaint, black = keep; the init image's size"),
  mask_blur: int(0).default(IN.maskBlur).describe("blur of the mask's edge, px"),
  masked_content: z
    .enum(MASKED_CONTENT)
    .default(IN.maskedContent)
    .describe("what the masked area starts from"),
  area: z
    .enum(["whole", "masked"])
    .default(IN.area)
    .describe("whole: the picture at width x height; masked: only the mask's box, at width x height"),
  padding: int(0).default(IN.padding).describe("area masked: pixels around the mask's box"),
});

const hiresParams = z.strictObject({
  scale: z.number().min(1).max(8).describe("upscale factor of the first pass"),
  steps: int(0).default(HR.steps).describe("second-pass steps (0: steps)"),
  denoising: z.number().gt(0).max(1).default(HR.denoising).describe("second-pass denoising strength"),
  upscaler: z
    .string()
    .default(HR.upscaler)
    .describe(`an A1111 upscaler name: ${HIRES_UPSCALERS.join(", ")}`),
});

const detailParams = z.strictObject({
  prompt: z.string().default("").describe("the face prompt ('': the image's prompt)"),
  negative: z.string().default("").describe("the face negative ('': the image's)"),
  confidence: z.number().min(0).max(1).default(FD.confidence).describe("detector score a face needs"),
  dilate_erode: z
    .number()
    .int()
    .default(FD.dilateErode)
    .describe("px the face box grows (negative: shrinks)"),
  mask_blur: int(0).default(FD.maskBlur).describe("blur of the mask's edge, px"),
  denoising: z.number().gt(0).max(1).default(FD.denoising).describe("denoising strength of the repaint"),
  padding: int(0).default(FD.padding).describe("pixels around the face box"),
  steps: int(1).optional().describe("sampling steps (unset: steps)"),
  size: int(64).optional().describe("working resolution, a square (unset: 512; SDXL 1024)"),
});

export const gen = defineKind({
  name: "gen",
  summary:
    "generate images with a base model, LoRAs and an A1111-style prompt: txt2img (hires fix), img2img, inpaint (danlu gen)",
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
    inpaint: inpaintParams.optional().describe("inpaint init_image (A1111's inpaint tab)"),
    hires: hiresParams.optional().describe("A1111's hires fix (txt2img only)"),
    detail_faces: detailParams
      .nullable()
      .default(null)
      .describe(`face detailing as A1111's ADetailer: repaint each face ${DETAIL_MODEL} finds (null: off)`),
    controlnets: z
      .array(controlNetParams)
      .default([])
      .describe("ControlNet units, in order (A1111's ControlNet 0, 1, ...)"),
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
      ...(p.inpaint
        ? {
            inpaint: {
              mask: resolveRef(ctx, p.inpaint.mask),
              maskBlur: p.inpaint.mask_blur,
              maskedContent: p.inpaint.masked_content,
              area: p.inpaint.area,
              padding: p.inpaint.padding,
            },
          }
        : {}),
      ...(p.hires ? { hires: p.hires } : {}),
      controlnets: controlNetOptionsOf(ctx, p.controlnets),
      modelsDir: dirname(ctx.paths.model(p.model)), // preprocessor models sit beside the base models
      out: join(ctx.runDir, "images"),
      device: p.device,
      precision: p.precision,
    });
    const job = spec.jobs[0]!;
    ctx.stage("generating");
    const result = await runGenerate(
      spec,
      engineHooks(ctx, { total: () => job.batch_count * job.batch_size }).onEvent,
      { signal: ctx.signal, modelsDir: dirname(ctx.paths.model(p.model)) },
    );
    const d = p.detail_faces;
    if (d) {
      ctx.stage("detailing faces");
      const images = (result.data?.images ?? []) as { path: string; job: number; seed: number }[];
      const options = {
        prompt: d.prompt,
        negative: d.negative,
        confidence: d.confidence,
        dilateErode: d.dilate_erode,
        maskBlur: d.mask_blur,
        denoising: d.denoising,
        padding: d.padding,
        ...(d.steps !== undefined ? { steps: d.steps } : {}),
        ...(d.size !== undefined ? { size: d.size } : {}),
      };
      await detailFaces(spec, images, options, {
        onEvent: (event) => {
          if (event.event !== "sample") ctx.engineEvent(event);
        },
        onLog: (line) => ctx.log(line),
        signal: ctx.signal,
      });
    }
    return {
      images: result.outputs.map((path) => runRelative(ctx, path)),
      seed: job.seed,
      sampler: job.sampler,
      elapsed_s: result.elapsedS,
    };
  },
});
