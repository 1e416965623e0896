/** The field guides the presets follow (the published texts, in Chinese), by their file number. */
export const GUIDES = {
  "000": "'Miaoya = SD + LoRA?': a person LoRA from 16 photos with kohya_ss",
  "001": "a character LoRA step by step with lora-scripts (sd-scripts)",
  "002": "a style LoRA from a painter's work with kohya_ss",
  "003": "training notes: dataset, networks, steps and learning rates",
  "004": "the diffusers advanced SDXL DreamBooth LoRA guide",
} as const;
export type GuideId = keyof typeof GUIDES;

/** One setting of a preset and the one-line reason for it, naming the guide that says so. */
export interface PresetSetting {
  /** A training key; a wanted one may not exist yet (the option is then skipped as not accepted). */
  key: string;
  value: unknown;
  reason: string;
}

/**
 * Settings that go together, most wanted first: the first option danlu accepts is used. A later option is
 * the nearest thing danlu supports today (e.g. AdamW where a guide uses Prodigy), its reasons say so; when
 * danlu gains the wanted setting, the preset uses it without being edited.
 */
export interface PresetGroup {
  options: PresetSetting[][];
  /** Said when no option is accepted, so nothing is set (what the guide wants, and that danlu lacks it). */
  missing?: string;
}

/** What a preset says about the dataset: folder names carry the repeats, so these are advice, not settings. */
export interface PresetAdvice {
  topic: string;
  text: string;
}

export interface PresetDefinition {
  name: string;
  summary: string;
  groups: PresetGroup[];
  advice: PresetAdvice[];
}

/** A setting with a fixed value (a group of one option of one setting). */
export function set(key: string, value: unknown, reason: string): PresetGroup {
  return { options: [[{ key, value, reason }]] };
}

/** Several settings chosen together: the wanted option, then the nearest supported fallbacks. */
export function prefer(...options: PresetSetting[][]): PresetGroup {
  return { options };
}

/** Settings danlu may not support yet: used when it does, otherwise `missing` is shown instead. */
export function wish(options: PresetSetting[][], missing: string): PresetGroup {
  return { options, missing };
}

/** Shorthand for one setting inside an option of `prefer`. */
export function s(key: string, value: unknown, reason: string): PresetSetting {
  return { key, value, reason };
}
