import { baseCaption, type KohyaImage, type KohyaSubset } from "../dataset/kohya/index.ts";
import type { SpecImage } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { processCaption, type CaptionOptions } from "./captions.ts";
import { createRng } from "./rng.ts";

/**
 * The validation set: training images held out (validation_split, drawn from the seed) or the images of
 * validation_data_dir. The engine computes their loss at fixed timesteps with fixed noise, so the figure
 * moves only when the weights do and is comparable across steps and runs.
 */

export interface ValidationOptions {
  /** Fraction of the training images held out, 0..0.5 (0: none). */
  split: number;
  /** Seed of the split (the same seed holds out the same images). */
  seed: number;
  /** The subsets of validation_data_dir: all their images validate, nothing is held out. */
  folder?: readonly KohyaSubset[] | null;
}

/** One validation image and the subset it came from (for its caption). */
export interface HeldOut {
  image: KohyaImage;
  subset: KohyaSubset;
}

// A random stream of its own (see plan.ts), so a split does not change the batch order's draws.
const STREAM_VALIDATION = 4;
/** How many fixed timesteps each validation image is scored at, spread evenly over the schedule. */
export const VALIDATION_TIMESTEP_COUNT = 5;

/** `count` timesteps at the centres of equal slices of [0, total): 5 of 1000 -> 100, 300, 500, 700, 900. */
export function validationTimesteps(count = VALIDATION_TIMESTEP_COUNT, total = 1000): number[] {
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * total) / count));
}

/** How many of `total` training images a split holds out: at least one when the split is above 0. */
export function heldOutCount(split: number, total: number): number {
  return split > 0 ? Math.max(1, Math.round(split * total)) : 0;
}

/**
 * Splits the training images into those that train and those that validate. Regularization images always
 * train. The held-out images are chosen by a seeded shuffle of the training images in dataset order, so
 * the same images, seed and fraction always hold out the same images.
 */
export function splitValidation(
  subsets: readonly KohyaSubset[],
  options: ValidationOptions,
): { train: KohyaSubset[]; held: HeldOut[] } {
  if (options.folder && options.folder.length > 0) {
    const held = options.folder
      .filter((s) => !s.isReg)
      .flatMap((subset) => subset.images.map((image) => ({ image, subset })));
    return { train: [...subsets], held };
  }
  const candidates = subsets
    .filter((s) => !s.isReg)
    .flatMap((subset) => subset.images.map((image) => ({ image, subset })));
  if (options.split <= 0) return { train: [...subsets], held: [] };
  const count = heldOutCount(options.split, candidates.length);
  if (count >= candidates.length) {
    throw new DanluError(
      `validation_split ${options.split} of ${candidates.length} training image(s) leaves none to train on`,
      {
        code: "CONFIG_CONFLICT",
        hint: "add training images, lower validation_split, or use validation_data_dir",
      },
    );
  }
  const order = createRng(options.seed, STREAM_VALIDATION).shuffle(candidates.map((_, i) => i));
  const heldIndices = new Set(order.slice(0, count));
  const heldImages = new Set(candidates.filter((_, i) => heldIndices.has(i)).map((c) => c.image));
  const train = subsets.map((subset) =>
    subset.isReg ? subset : { ...subset, images: subset.images.filter((image) => !heldImages.has(image)) },
  );
  return { train, held: candidates.filter((_, i) => heldIndices.has(i)) };
}

/** What the spec says of each validation image: its index in the spec's images and its fixed caption. */
export interface ValidationEntry {
  image: number;
  caption: string;
}

/**
 * The held-out images as spec images (appended after the training images, from `firstIndex`), each with the
 * caption it always validates with: prefix/suffix applied, never shuffled or dropped.
 */
export function validationEntries(
  held: readonly HeldOut[],
  firstIndex: number,
  toSpecImage: (entry: HeldOut) => SpecImage,
  captions: CaptionOptions,
): { images: SpecImage[]; entries: ValidationEntry[] } {
  const fixed: CaptionOptions = {
    ...captions,
    shuffleCaption: false,
    captionDropoutRate: 0,
    captionDropoutEveryNEpochs: 0,
    captionTagDropoutRate: 0,
  };
  const rng = createRng(0); // nothing random is left in `fixed`; processCaption takes a source all the same
  const images = held.map((entry) => ({ ...toSpecImage(entry), flip: false, is_reg: false, loss_weight: 1 }));
  const entries = held.map((entry, k) => ({
    image: firstIndex + k,
    caption: processCaption(baseCaption(entry.image, entry.subset), fixed, { epoch: 1, rng }),
  }));
  return { images, entries };
}

/** The plan report's validation paragraph, or "" when the run does not validate. */
export function formatValidation(
  images: number,
  config: { validation_split: number; validation_data_dir?: string | null; validate_every_n_steps: number },
): string {
  if (images === 0) return "";
  const source = config.validation_data_dir
    ? `the images of validation_data_dir '${config.validation_data_dir}'`
    : `held out of the training images (validation_split ${config.validation_split})`;
  const every = config.validate_every_n_steps > 0 ? `, every ${config.validate_every_n_steps} steps` : "";
  return [
    "",
    "Validation",
    `  ${images} image(s), ${source}`,
    `  loss at ${VALIDATION_TIMESTEP_COUNT} fixed timesteps with fixed noise: before training${every} and at each epoch end (logs/.../val_loss.csv)`,
  ].join("\n");
}
