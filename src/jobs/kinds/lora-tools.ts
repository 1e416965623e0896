import { z } from "zod";
import { LORA_PRECISIONS, RESIZE_METHODS } from "../../engine/spec-lora.ts";
import {
  bakeLoras,
  extractLora,
  LORA_TOOL_DEFAULTS as D,
  mergeLoras,
  resizeLora,
  type ToolResult,
} from "../../lora/tools.ts";
import { defineKind, engineHooks, hidePaths, jobFileRef, resolveRef, runRelative } from "./common.ts";
import { outPath, stem } from "./lora.ts";
import type { KindContext } from "./types.ts";

/** `danlu lora merge|resize|bake|extract` as jobs: the engine's SVDs; inputs are other jobs' files. */

const weighted = jobFileRef.extend({ weight: z.number().default(1).describe("its weight") });
const precision = z.enum(LORA_PRECISIONS);
const out = (fallback: string) =>
  z.string().default(fallback).describe("the new file's name in this job's folder (.safetensors)");

/** A tool's report with its file relative to the run folder and no server paths in it. */
function toolResult(ctx: KindContext, result: ToolResult): Record<string, unknown> {
  const { out: file, ...rest } = result;
  const text = hidePaths(ctx, JSON.stringify(rest));
  return { file: runRelative(ctx, file), ...(JSON.parse(text) as Record<string, unknown>) };
}

export const loraResize = defineKind({
  name: "lora-resize",
  summary:
    "lower a LoRA's rank by SVD: a fixed rank, or per module by sv_ratio / sv_fro / sv_cumulative (danlu lora resize)",
  usesEngine: true,
  params: z.strictObject({
    lora: jobFileRef.describe("a kohya LoRA file, from one of your jobs"),
    rank: z.number().int().min(1).describe("the new rank; with a dynamic method, the largest rank kept"),
    conv_rank: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("the rank for 3x3 conv (LoCon) modules (unset: rank)"),
    method: z.enum(RESIZE_METHODS).default(D.resizeMethod).describe("how each module's rank is chosen"),
    param: z
      .number()
      .min(0)
      .optional()
      .describe(
        "sv_ratio: keep singular values above largest/x; sv_fro: share x of the Frobenius norm; sv_cumulative: share x of the sum",
      ),
    precision: precision.optional().describe("save precision (unset: the input's)"),
    out: z
      .string()
      .optional()
      .describe("the new file's name in this job's folder (unset: {input}-r{rank}.safetensors)"),
  }),
  async run(p, ctx) {
    ctx.stage("resizing");
    const input = resolveRef(ctx, p.lora);
    const options = {
      input,
      out: outPath(ctx, p.out ?? `${stem(input)}-r${p.rank}.safetensors`),
      rank: p.rank,
      method: p.method,
      ...(p.conv_rank !== undefined ? { convRank: p.conv_rank } : {}),
      ...(p.param !== undefined ? { param: p.param } : {}),
      ...(p.precision ? { precision: p.precision } : {}),
    };
    return toolResult(ctx, await resizeLora(options, engineHooks(ctx)));
  },
});

export const loraMerge = defineKind({
  name: "lora-merge",
  summary:
    "several LoRAs with weights into one: ranks stacked (exact) or SVD of the sum to a rank (danlu lora merge)",
  usesEngine: true,
  params: z.strictObject({
    loras: z.array(weighted).min(1).describe("LoRA files of your jobs, each with a weight"),
    mode: z
      .enum(["concat", "svd"])
      .default(D.mergeMode)
      .describe("concat: exact, ranks add up; svd: to rank"),
    rank: z.number().int().min(1).optional().describe("rank of an SVD merge"),
    precision: precision.optional().describe("save precision (unset: the first input's)"),
    out: out("merged.safetensors"),
  }),
  async run(p, ctx) {
    ctx.stage("merging");
    const inputs = p.loras.map((lora) => ({ path: resolveRef(ctx, lora), weight: lora.weight }));
    const options = {
      inputs,
      out: outPath(ctx, p.out),
      mode: p.mode,
      ...(p.rank !== undefined ? { rank: p.rank } : {}),
      ...(p.precision ? { precision: p.precision } : {}),
    };
    return toolResult(ctx, await mergeLoras(options, engineHooks(ctx)));
  },
});

export const loraBake = defineKind({
  name: "lora-bake",
  summary:
    "merge LoRAs into a base checkpoint and save one single-file checkpoint with LDM key names (danlu lora bake)",
  usesEngine: true,
  params: z.strictObject({
    model: z
      .string()
      .describe("the base checkpoint: a file (or diffusers folder) name in the service's models folder"),
    loras: z.array(weighted).min(1).describe("LoRA files of your jobs, each with a weight"),
    precision: precision.default(D.bakePrecision).describe("precision of the checkpoint"),
    out: out("baked.safetensors"),
  }),
  async run(p, ctx) {
    ctx.stage("baking");
    const loras = p.loras.map((lora) => ({ path: resolveRef(ctx, lora), weight: lora.weight }));
    const options = {
      model: ctx.paths.model(p.model),
      loras,
      out: outPath(ctx, p.out),
      precision: p.precision,
    };
    return toolResult(ctx, await bakeLoras(options, engineHooks(ctx)));
  },
});

export const loraExtract = defineKind({
  name: "lora-extract",
  summary:
    "a LoRA from a fine-tuned checkpoint and its base: SVD of the weight differences, kohya names (danlu lora extract)",
  usesEngine: true,
  params: z.strictObject({
    base: z.string().describe("the base checkpoint, by name in the service's models folder"),
    tuned: z
      .union([z.string(), jobFileRef])
      .describe(
        "the fine-tuned checkpoint (same architecture): a name in the models folder, or a file of your jobs (a baked one)",
      ),
    rank: z.number().int().min(1).default(D.extractRank).describe("rank of every module"),
    text_encoder: z.boolean().default(D.extractTextEncoder).describe("include the text encoder(s)"),
    min_diff: z
      .number()
      .min(0)
      .default(D.extractMinDiff)
      .describe("skip layers whose largest change is at most this"),
    precision: precision.default(D.extractPrecision).describe("save precision"),
    out: out("extracted.safetensors"),
  }),
  async run(p, ctx) {
    ctx.stage("extracting");
    const options = {
      base: ctx.paths.model(p.base),
      tuned: typeof p.tuned === "string" ? ctx.paths.model(p.tuned) : resolveRef(ctx, p.tuned),
      out: outPath(ctx, p.out),
      rank: p.rank,
      textEncoder: p.text_encoder,
      minDiff: p.min_diff,
      precision: p.precision,
    };
    return toolResult(ctx, await extractLora(options, engineHooks(ctx)));
  },
});
