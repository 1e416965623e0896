import type { z } from "zod";
import { DanluError } from "../errors.ts";
import type { samplePrompt } from "../engine/spec.ts";
import { canonicalSampler, SAMPLE_SAMPLERS } from "./samplers.ts";

export type SamplePrompt = z.infer<typeof samplePrompt>;

/** What a prompt gets for each option it does not set (the caller passes the run's settings). */
export interface SamplePromptDefaults {
  width: number;
  height: number;
  steps: number;
  scale: number;
  sampler: string;
  seed: number;
}

/** sd-scripts' own fallbacks (sample_image_inference in library/train_util.py); seed there is random. */
export const SD_SCRIPTS_SAMPLE_DEFAULTS = { width: 512, height: 512, steps: 30, scale: 7.5 } as const;

/** A prompt's settings before defaults, named as sd-scripts' prompt dicts name them (.toml/.json files). */
export interface PromptFields {
  prompt?: string;
  negative_prompt?: string;
  width?: number;
  height?: number;
  seed?: number;
  sample_steps?: number;
  scale?: number;
  sample_sampler?: string;
}

/** sd-scripts options that mean nothing for SD1/2/XL sampling: accepted with a warning, as it does. */
export const IGNORED_OPTIONS: Record<string, string> = {
  g: "guidance_scale",
  cn: "controlnet_image",
  ctr: "cfg_trunc_ratio",
  rcfg: "renorm_cfg",
  fs: "flow_shift",
};

const OPTION_FIELDS: Record<string, keyof PromptFields> = {
  n: "negative_prompt",
  w: "width",
  h: "height",
  d: "seed",
  s: "sample_steps",
  l: "scale",
  ss: "sample_sampler",
};

/** Parses one option's text into its field's value; throws Error with the reason. */
export function optionValue(field: keyof PromptFields, text: string): string | number {
  const value = text.trim();
  const whole = (min: number, max: number): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`must be a whole number from ${min} to ${max} (got "${value}")`);
    }
    return n;
  };
  switch (field) {
    case "width":
    case "height":
      return whole(64, 8192);
    case "seed":
      return whole(0, Number.MAX_SAFE_INTEGER);
    case "sample_steps":
      return whole(1, 1000); // sd-scripts clamps to 1..1000
    case "scale": {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || n < 0)
        throw new Error(`must be a number >= 0 (got "${value}")`);
      return n;
    }
    case "sample_sampler":
      if (!canonicalSampler(value))
        throw new Error(`"${value}" is not a sampler (${SAMPLE_SAMPLERS.join(", ")})`);
      return value;
    default:
      return text.trim();
  }
}

/** Splits `prompt --w 512 --n ugly` into its fields (sd-scripts' line_to_prompt_dict, stricter). */
export function parsePromptLine(line: string, warnings: string[] = []): PromptFields {
  const [prompt = "", ...options] = line.split(" --");
  const fields: PromptFields = { prompt: prompt.trim() };
  for (const option of options) {
    const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(option.trim());
    const name = (match?.[1] ?? "").toLowerCase();
    const field = OPTION_FIELDS[name];
    if (field === undefined) {
      if (IGNORED_OPTIONS[name]) {
        warnings.push(`--${name} (${IGNORED_OPTIONS[name]}) does not apply to SD sampling; ignored`);
        continue;
      }
      const known = Object.keys(OPTION_FIELDS).map((o) => `--${o}`);
      throw new Error(`unknown option --${match?.[1] ?? option.trim()} (options: ${known.join(" ")})`);
    }
    try {
      (fields as Record<string, unknown>)[field] = optionValue(field, match?.[2] ?? "");
    } catch (error) {
      throw new Error(`--${name} ${(error as Error).message}`);
    }
  }
  return fields;
}

/** Applies defaults; sizes are rounded down to a multiple of 8 (at least 64), as sd-scripts does. */
export function withDefaults(fields: PromptFields, defaults: SamplePromptDefaults): SamplePrompt {
  const multipleOf8 = (px: number): number => Math.max(64, px - (px % 8));
  const sampler = fields.sample_sampler ?? defaults.sampler;
  return {
    prompt: fields.prompt ?? "",
    negative_prompt: fields.negative_prompt ?? "",
    width: multipleOf8(fields.width ?? defaults.width),
    height: multipleOf8(fields.height ?? defaults.height),
    seed: fields.seed ?? defaults.seed,
    steps: fields.sample_steps ?? defaults.steps,
    scale: fields.scale ?? defaults.scale,
    sampler: canonicalSampler(sampler) ?? sampler,
  };
}

export function promptError(place: string, message: string): DanluError {
  return new DanluError(`${place}: ${message}`, {
    code: "BAD_PROMPT_FILE",
    hint: "sample prompt lines look like: a photo of sks --n blurry --w 512 --h 768 --d 1 --s 28 --l 7 --ss euler_a",
  });
}
