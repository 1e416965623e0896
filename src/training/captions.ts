import type { Rng } from "./rng.ts";

/**
 * The caption an image gets at one training step, processed in the order of sd-scripts'
 * BaseDataset.process_caption: prefix/suffix, whole-caption dropout, first line only, keep tokens,
 * shuffle, tag dropout, then the secondary separator.
 */
export interface CaptionOptions {
  /** Added before the caption with a space (not a separator): "sks" + "a, b" -> "sks a, b". */
  captionPrefix: string;
  captionSuffix: string;
  shuffleCaption: boolean;
  /** How many leading tags stay in place when shuffling or dropping tags. */
  keepTokens: number;
  /** If set and present, it splits fixed | shuffled [| fixed suffix] parts instead of keepTokens. */
  keepTokensSeparator: string;
  captionSeparator: string;
  /** Replaced by captionSeparator after shuffling, so "a;b" stays together as one tag. */
  secondarySeparator: string;
  /** Probability (0..1) that the whole caption becomes "". */
  captionDropoutRate: number;
  /** Every N-th epoch (1-based) trains with empty captions; 0 = never. */
  captionDropoutEveryNEpochs: number;
  /** Probability (0..1) that each non-fixed tag is dropped. */
  captionTagDropoutRate: number;
}

export const DEFAULT_CAPTION_OPTIONS: CaptionOptions = {
  captionPrefix: "",
  captionSuffix: "",
  shuffleCaption: false,
  keepTokens: 0,
  keepTokensSeparator: "",
  captionSeparator: ",",
  secondarySeparator: "",
  captionDropoutRate: 0,
  captionDropoutEveryNEpochs: 0,
  captionTagDropoutRate: 0,
};

/** What processCaption needs to know about the step; `epoch` is 1-based. */
export interface CaptionStep {
  epoch: number;
  rng: Rng;
}

export function processCaption(caption: string, options: CaptionOptions, step: CaptionStep): string {
  let text = caption;
  if (options.captionPrefix) text = `${options.captionPrefix} ${text}`;
  if (options.captionSuffix) text = `${text} ${options.captionSuffix}`;
  if (isDroppedOut(options, step)) return "";

  text = text.split("\n")[0] ?? "";
  if (options.shuffleCaption || options.captionTagDropoutRate > 0) {
    text = shuffleAndDropTags(text, options, step.rng);
  }
  if (options.secondarySeparator)
    text = text.split(options.secondarySeparator).join(options.captionSeparator);
  return text;
}

function isDroppedOut(options: CaptionOptions, step: CaptionStep): boolean {
  // The rng is drawn only when the rate is set, as sd-scripts does, so other settings keep their sequence.
  const byRate = options.captionDropoutRate > 0 && step.rng.next() < options.captionDropoutRate;
  const byEpoch =
    options.captionDropoutEveryNEpochs > 0 && step.epoch % options.captionDropoutEveryNEpochs === 0;
  return byRate || byEpoch;
}

interface TagParts {
  fixed: string[];
  flexible: string[];
  fixedSuffix: string[];
}

function splitTags(text: string, separator: string): string[] {
  // sd-scripts keeps empty tags in the keep_tokens branch (a trailing ", " survives); danlu drops them.
  return text
    .split(separator)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

function tagParts(text: string, options: CaptionOptions): TagParts {
  const { keepTokensSeparator: keep, captionSeparator: separator } = options;
  if (keep && text.includes(keep)) {
    const [fixedPart, ...rest] = text.split(keep);
    const flexiblePart = rest[0] ?? "";
    const suffixPart = rest.length > 1 ? rest.slice(1).join(keep) : "";
    return {
      fixed: splitTags(fixedPart ?? "", separator),
      flexible: splitTags(flexiblePart, separator),
      fixedSuffix: splitTags(suffixPart, separator),
    };
  }
  const tags = splitTags(text, separator);
  return {
    fixed: tags.slice(0, options.keepTokens),
    flexible: tags.slice(options.keepTokens),
    fixedSuffix: [],
  };
}

function shuffleAndDropTags(text: string, options: CaptionOptions, rng: Rng): string {
  const parts = tagParts(text, options);
  let flexible = parts.flexible;
  if (options.shuffleCaption) rng.shuffle(flexible);
  if (options.captionTagDropoutRate > 0) {
    flexible = flexible.filter(() => rng.next() >= options.captionTagDropoutRate);
  }
  // sd-scripts always joins with ", ", whatever the caption separator.
  return [...parts.fixed, ...flexible, ...parts.fixedSuffix].join(", ");
}
