import type { Size } from "../dataset/buckets.ts";
import type { Arch } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import type { CaptionOptions } from "./captions.ts";

const ARCH_NAMES: Record<Arch, string> = { sd15: "SD1.5", sd2: "SD2", sdxl: "SDXL" };

/** Sizes must be multiples of this: 64 for SD1/SD2 (sd-scripts' check), 32 for SDXL. */
export function sizeUnit(arch: Arch): number {
  return arch === "sdxl" ? 32 : 64;
}

export interface BucketSettings {
  resolution: Size;
  enableBucket: boolean;
  minBucketReso: number;
  maxBucketReso: number;
  bucketResoSteps: number;
  bucketNoUpscale: boolean;
}

function nearestMultiple(value: number, unit: number): number {
  return Math.max(unit, Math.round(value / unit) * unit);
}

function checkPositiveInt(value: number, key: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new DanluError(`${key} is ${value}: it must be a whole number of at least 1`, {
      hint: `fix ${key}`,
    });
  }
}

/**
 * Checks resolution and bucket settings for the architecture and returns them as used: like sd-scripts,
 * min_bucket_reso is rounded down and max_bucket_reso up to a multiple of bucket_reso_steps (with a warning).
 */
export function checkBucketSettings(
  arch: Arch,
  settings: BucketSettings,
): { settings: BucketSettings; warnings: string[] } {
  const unit = sizeUnit(arch);
  const [width, height] = settings.resolution;
  checkPositiveInt(width, "resolution (width)");
  checkPositiveInt(height, "resolution (height)");
  if (width % unit !== 0 || height % unit !== 0) {
    const suggestion = `${nearestMultiple(width, unit)}x${nearestMultiple(height, unit)}`;
    throw new DanluError(
      `resolution ${width}x${height} is not a multiple of ${unit} (required for ${ARCH_NAMES[arch]})`,
      {
        hint: `use resolution ${suggestion}`,
      },
    );
  }
  if (!settings.enableBucket) return { settings, warnings: [] };

  const step = settings.bucketResoSteps;
  checkPositiveInt(step, "bucket_reso_steps");
  if (step % unit !== 0) {
    throw new DanluError(
      `bucket_reso_steps ${step} is not a multiple of ${unit} (required for ${ARCH_NAMES[arch]})`,
      {
        hint: `use bucket_reso_steps = ${unit}`,
      },
    );
  }
  const warnings: string[] = [];
  let { minBucketReso, maxBucketReso } = settings;
  if (minBucketReso % step !== 0) {
    const adjusted = minBucketReso - (minBucketReso % step);
    warnings.push(`min_bucket_reso ${minBucketReso} is not a multiple of ${step}: using ${adjusted}`);
    minBucketReso = adjusted;
  }
  if (maxBucketReso % step !== 0) {
    const adjusted = maxBucketReso + step - (maxBucketReso % step);
    warnings.push(`max_bucket_reso ${maxBucketReso} is not a multiple of ${step}: using ${adjusted}`);
    maxBucketReso = adjusted;
  }
  if (minBucketReso < 1 || Math.min(width, height) < minBucketReso) {
    throw new DanluError(
      `min_bucket_reso ${minBucketReso} must be between 1 and the resolution's shorter side`,
      {
        hint: `set min_bucket_reso to at most ${Math.min(width, height)} (256 is usual for 512 px)`,
      },
    );
  }
  if (Math.max(width, height) > maxBucketReso) {
    throw new DanluError(`max_bucket_reso ${maxBucketReso} is below the resolution's longer side`, {
      hint: `set max_bucket_reso to at least ${Math.max(width, height)} (1024 is usual for 512 px)`,
    });
  }
  return { settings: { ...settings, minBucketReso, maxBucketReso }, warnings };
}

/** batch size, accumulation and run length; exactly one of epochs/steps decides the length (epochs win). */
export function checkLengthSettings(options: {
  batchSize: number;
  gradientAccumulationSteps: number;
  numProcesses?: number;
  maxTrainEpochs?: number | null;
  maxTrainSteps?: number | null;
}): void {
  checkPositiveInt(options.batchSize, "train_batch_size");
  checkPositiveInt(options.gradientAccumulationSteps, "gradient_accumulation_steps");
  checkPositiveInt(options.numProcesses ?? 1, "num_processes");
  if (options.maxTrainEpochs != null) checkPositiveInt(options.maxTrainEpochs, "max_train_epochs");
  else if (options.maxTrainSteps != null) checkPositiveInt(options.maxTrainSteps, "max_train_steps");
  else {
    throw new DanluError("the run has no length: neither max_train_epochs nor max_train_steps is set", {
      hint: "set max_train_epochs (e.g. 10) or max_train_steps (e.g. 1600)",
    });
  }
}

function checkRate(value: number, key: string): void {
  if (!(value >= 0 && value <= 1))
    throw new DanluError(`${key} is ${value}: it must be between 0 and 1`, { hint: `fix ${key}` });
}

export function checkCaptionOptions(options: CaptionOptions): void {
  checkRate(options.captionDropoutRate, "caption_dropout_rate");
  checkRate(options.captionTagDropoutRate, "caption_tag_dropout_rate");
  for (const [key, value] of [
    ["keep_tokens", options.keepTokens],
    ["caption_dropout_every_n_epochs", options.captionDropoutEveryNEpochs],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new DanluError(`${key} is ${value}: it must be a whole number, 0 or more`, {
        hint: `fix ${key}`,
      });
    }
  }
  if (options.captionSeparator === "") {
    throw new DanluError("caption_separator is empty", { hint: 'use caption_separator = "," (the default)' });
  }
}
