import type { TrainConfig } from "../config/index.ts";
import type { KohyaDataset } from "../dataset/kohya/index.ts";
import type { Arch, RunRecord } from "../engine/spec.ts";
import { DEFAULT_CAPTION_OPTIONS, type CaptionOptions } from "./captions.ts";
import type { TrainPlan } from "./plan.ts";
import type { ResumePoint } from "./resume-check.ts";

export interface PreparedRun {
  arch: Arch;
  dataset: KohyaDataset;
  plan: TrainPlan;
  /** The plan as a person reads it (folders, buckets, steps, what is saved when; where it resumes). */
  report: string;
  /** What this run is, saved with each state so that a resume can be checked against it. */
  record: RunRecord;
  /** The checked state it resumes from; null: a new run. */
  resume: ResumePoint | null;
}

export function captionOptionsOf(config: TrainConfig): CaptionOptions {
  return {
    ...DEFAULT_CAPTION_OPTIONS,
    captionPrefix: config.caption_prefix,
    captionSuffix: config.caption_suffix,
    shuffleCaption: config.shuffle_caption,
    keepTokens: config.keep_tokens,
    keepTokensSeparator: config.keep_tokens_separator,
    captionSeparator: config.caption_separator,
    captionDropoutRate: config.caption_dropout_rate,
    captionTagDropoutRate: config.caption_tag_dropout_rate,
  };
}
