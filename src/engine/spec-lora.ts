import { z } from "zod";

/**
 * Spec files of the engine's LoRA tools (engine/danlu_engine/commands/lora_*.py check the same keys).
 * Paths are absolute; `out` is a new .safetensors file in an existing folder.
 */

export const LORA_PRECISIONS = ["float", "fp16", "bf16"] as const;
export const RESIZE_METHODS = ["fixed", "sv_ratio", "sv_fro", "sv_cumulative"] as const;

const weightedFile = z.strictObject({ path: z.string(), weight: z.number() });

export const loraResizeSpec = z.strictObject({
  version: z.literal(1),
  path: z.string(),
  out: z.string(),
  rank: z.number().int().positive(), // the rank (fixed), or the largest rank a dynamic method may keep
  conv_rank: z.number().int().positive(), // the same for 3x3 conv (LoCon) modules
  method: z.enum(RESIZE_METHODS),
  param: z.number().positive().nullable(), // sv_ratio: largest/smallest kept; sv_fro, sv_cumulative: share 0..1
  precision: z.enum(LORA_PRECISIONS).nullable(), // null: the input's
});

export const loraMergeSpec = z.strictObject({
  version: z.literal(1),
  inputs: z.array(weightedFile).min(1),
  out: z.string(),
  mode: z.enum(["concat", "svd"]), // concat: exact, ranks add up; svd: to `rank`
  rank: z.number().int().positive(),
  conv_rank: z.number().int().positive(),
  precision: z.enum(LORA_PRECISIONS).nullable(),
});

export const loraBakeSpec = z.strictObject({
  version: z.literal(1),
  model: z.string(), // single-file checkpoint or diffusers folder
  loras: z.array(weightedFile).min(1),
  out: z.string(),
  precision: z.enum(LORA_PRECISIONS),
});

export const loraExtractSpec = z.strictObject({
  version: z.literal(1),
  base: z.string(),
  tuned: z.string(),
  out: z.string(),
  rank: z.number().int().positive(),
  text_encoder: z.boolean(),
  min_diff: z.number().nonnegative(), // layers whose largest change is at most this are left out
  precision: z.enum(LORA_PRECISIONS),
});

export type LoraResizeSpec = z.infer<typeof loraResizeSpec>;
export type LoraMergeSpec = z.infer<typeof loraMergeSpec>;
export type LoraBakeSpec = z.infer<typeof loraBakeSpec>;
export type LoraExtractSpec = z.infer<typeof loraExtractSpec>;
