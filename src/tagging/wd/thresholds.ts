/**
 * Default thresholds per WD model: the general threshold is the value where precision equals recall
 * on the model's validation set (published on each model card); the character threshold 0.85 is the
 * default of SmilingWolf's wd-tagger Space. Unknown models get the common 0.35 / 0.85.
 */
export interface Thresholds {
  general: number;
  character: number;
}

export const COMMON_THRESHOLDS: Thresholds = { general: 0.35, character: 0.85 };

// Matched in order against the model's name (folder or registry name); more specific names first.
const PRECISION_EQUALS_RECALL: [RegExp, number][] = [
  [/eva02-large-tagger-v3/, 0.5296],
  [/vit-large-tagger-v3/, 0.2606],
  [/vit-tagger-v3/, 0.2614],
  [/convnext-tagger-v3/, 0.2682],
  [/swinv2-tagger-v3/, 0.2653],
  [/moat-tagger-v2/, 0.3771],
  [/swinv2-tagger-v2/, 0.3771],
  [/convnextv2-tagger-v2/, 0.371],
  [/convnext-tagger-v2/, 0.3685],
  [/vit-tagger-v2/, 0.3537],
];

/** The defaults for a model, from its name; `known` says whether the name matched a model family. */
export function defaultThresholds(modelName: string): Thresholds & { known: boolean } {
  const name = modelName.toLowerCase();
  for (const [pattern, general] of PRECISION_EQUALS_RECALL) {
    if (pattern.test(name)) return { general, character: COMMON_THRESHOLDS.character, known: true };
  }
  return { ...COMMON_THRESHOLDS, known: false };
}
