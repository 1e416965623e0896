import { z } from "zod";
import { canonicalSampler, SAMPLE_SAMPLER_NAMES } from "../sampling/samplers.ts";
import { custom, intFromText, numberFromText } from "./key-kinds.ts";
import { checkOptimizerArgsSyntax } from "./optimizer-args.ts";

// Keys whose values have more than one spelling. Each schema's output is also a valid input, so a
// resolved value can be checked again unchanged.

const side = z.number().int().min(64);
const sizePair = z.tuple([side, side]);

/** 512, "512", "512,768" or [512, 768] -> [width, height] (sd-scripts: "W,H" or one side for a square). */
export const resolutionSchema = z.union([
  side.transform((s): [number, number] => [s, s]),
  sizePair,
  z
    .string()
    .regex(/^\s*\d+\s*(,\s*\d+\s*)?$/)
    .transform((text): [number, number] => {
      const [w, h] = text.split(",").map((part) => Number(part.trim()));
      return [w ?? 0, h ?? w ?? 0];
    })
    .pipe(sizePair),
]);

export const resolutionKey = custom(
  resolutionSchema,
  [512, 512],
  'training size in px: one side for a square, "W,H" or [w, h]; 1024 for SDXL, 768 for SD2-v',
  'int | "W,H" | [w, h] (each >= 64)',
);

/** A step count (int >= 1), a ratio of the total steps (< 1), or "10%", as sd-scripts' int_or_float. */
const warmupSchema = z
  .union([
    z.number().nonnegative(),
    z
      .string()
      .regex(/^\s*\d+(\.\d+)?\s*%\s*$/)
      .transform((text) => Number(text.trim().replace("%", "")) / 100),
  ])
  .pipe(
    z
      .number()
      .nonnegative()
      .refine((v) => v < 1 || Number.isInteger(v), "a value >= 1 is a step count and must be a whole number"),
  );

export const warmupKey = custom(
  warmupSchema,
  0,
  'lr warmup: steps (int), or a ratio of the total steps when < 1 (0.05 or "5%")',
  'int >= 0 | ratio < 1 | "N%"',
  (text) => (text.trim().endsWith("%") ? text : numberFromText(text)),
);

export const maxTokenLengthKey = custom(
  z.union([z.literal(75), z.literal(150), z.literal(225)]),
  75,
  "caption length in CLIP tokens: 75 (one chunk), 150 or 225 (2 or 3 chunks)",
  "75 | 150 | 225",
  intFromText,
);

const optimizerArgsSchema = z.array(z.string()).superRefine((args, ctx) => {
  try {
    checkOptimizerArgsSyntax(args);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

export const optimizerArgsKey = custom(
  optimizerArgsSchema,
  [],
  'optimizer settings as "key=value", e.g. weight_decay=0.1 or decouple=True (each optimizer lists its own)',
  'list of "key=value"',
  (text) => text,
  "list",
);

const samplerSchema = z
  .string()
  .refine((name) => canonicalSampler(name) !== undefined)
  .transform((name) => canonicalSampler(name) ?? name);

export const sampleSamplerKey = custom(
  samplerSchema,
  "ddim",
  "scheduler for sample images (k_euler etc. are accepted as aliases, as in sd-scripts)",
  SAMPLE_SAMPLER_NAMES.slice(0, 11).join(" | "),
);
