import { cropOffset, makeBuckets, selectBucket, type BucketRule, type Size } from "../dataset/buckets.ts";
import { baseCaption, type KohyaDataset, type KohyaImage, type KohyaSubset } from "../dataset/kohya/index.ts";
import type { Arch, SpecBatch, SpecImage } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import type { CaptionOptions } from "./captions.ts";
import {
  checkBucketSettings,
  checkCaptionOptions,
  checkLengthSettings,
  type BucketSettings,
} from "./plan-checks.ts";
import { buildEpochs, planLength, type BucketContents } from "./plan-epochs.ts";
import { createRng } from "./rng.ts";
import {
  splitValidation,
  validationEntries,
  type ValidationEntry,
  type ValidationOptions,
} from "./validation.ts";

export interface PlanOptions extends BucketSettings {
  arch: Arch;
  batchSize: number;
  /** When set, it decides the length and max_train_steps is ignored (as in sd-scripts). */
  maxTrainEpochs?: number | null;
  maxTrainSteps?: number | null;
  gradientAccumulationSteps: number;
  /** Processes training together (num_processes); each step takes one micro-batch per process per accumulation. Default 1. */
  numProcesses?: number;
  seed: number;
  captions: CaptionOptions;
  flipAug: boolean;
  /** One random crop position per image, drawn from the seed (sd-scripts draws one per step). */
  randomCrop?: boolean;
  /** Loss weight of regularization images. */
  priorLossWeight: number;
  /** Images held out (or a folder) for the validation loss; absent: none. */
  validation?: ValidationOptions | null;
}

export interface PlanSubset {
  dir: string;
  name: string;
  isReg: boolean;
  /** From the folder name. */
  repeats: number;
  /** Images in the folder. */
  imageCount: number;
  /** How often its images are used per epoch (images x repeats; for reg folders, after cycling). */
  perEpoch: number;
}

export interface TrainPlan {
  /** Every image the run uses; batches refer to them by index (validation images come last). */
  images: SpecImage[];
  /** The validation images (indices into `images`) and their fixed captions; empty: no validation. */
  validation: ValidationEntry[];
  /** epochs[e]: the micro-batches of epoch e+1, in order; the last epoch may be cut short by max_train_steps. */
  epochs: SpecBatch[][];
  subsets: PlanSubset[];
  /** Buckets in use, sorted, with how many images (repeats included) each holds per epoch. */
  buckets: { size: Size; count: number }[];
  /** Training images x repeats (sd-scripts' num_train_images). */
  numTrainImages: number;
  /** Regularization images x their folders' repeats (sd-scripts' num_reg_images, before cycling). */
  numRegImages: number;
  /** Regularization images used per epoch: cycled until they match numTrainImages. */
  regImagesPerEpoch: number;
  /** Mean |bucket aspect - image aspect| over the images (without repeats); sd-scripts' mean_img_ar_error. */
  meanAspectError: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  /** Processes training together: the global batch per step is numProcesses x gradientAccumulationSteps x batchSize. */
  numProcesses: number;
  /** Micro-batches per full epoch, all processes together (sd-scripts' len(train_dataloader) before sharding). */
  batchesPerEpoch: number;
  /** Optimizer steps per full epoch: ceil(batchesPerEpoch / (numProcesses x gradientAccumulationSteps)). */
  stepsPerEpoch: number;
  numEpochs: number;
  totalSteps: number;
  seed: number;
  /** The bucket settings as used (min/max rounded to the step). */
  bucketSettings: BucketSettings;
  warnings: string[];
}

/** One image as registered for training: how many times per epoch it is used. */
interface Registered {
  image: KohyaImage;
  subset: KohyaSubset;
  perEpoch: number;
}

// Separate random streams, so that (say) turning on random_crop does not change the batch order.
const STREAM_CROP = 1;

/** The whole training plan: which image, at which size, with which caption, in which batch, at each step. */
export function buildPlan(dataset: KohyaDataset, options: PlanOptions): TrainPlan {
  const checked = checkBucketSettings(options.arch, options);
  checkLengthSettings(options);
  const numProcesses = options.numProcesses ?? 1;
  checkCaptionOptions(options.captions);
  const bucketSettings = checked.settings;

  const split = splitValidation(dataset.subsets, options.validation ?? { split: 0, seed: options.seed });
  const { registered, numTrainImages, numRegImages, warnings } = registerImages(split.train);
  const rule = bucketRule(bucketSettings);
  const cropRng = createRng(options.seed, STREAM_CROP);
  const aspectErrors: number[] = [];
  const images = registered.map((entry) => {
    const { image, aspectError } = specImageFor(entry, rule, options, cropRng.next);
    aspectErrors.push(Math.abs(aspectError));
    return image;
  });

  const contents = bucketContents(images, registered);
  const length = planLength({
    batchesPerBucket: contents.map((b) => Math.ceil(b.items.length / options.batchSize)),
    ...options,
    numProcesses,
  });
  const epochs = buildEpochs({
    contents,
    captions: registered.map((entry) => baseCaption(entry.image, entry.subset)),
    length,
    batchSize: options.batchSize,
    microBatchesPerStep: options.gradientAccumulationSteps * numProcesses,
    seed: options.seed,
    captionOptions: options.captions,
  });

  const toSpecImage = (entry: { image: KohyaImage; subset: KohyaSubset }) =>
    specImageFor({ ...entry, perEpoch: 0 }, rule, options, cropRng.next).image;
  const validation = validationEntries(split.held, images.length, toSpecImage, options.captions);

  return {
    images: [...images, ...validation.images],
    validation: validation.entries,
    epochs,
    subsets: summarizeSubsets(split.train, registered),
    buckets: contents.map((b) => ({ size: b.size, count: b.items.length })),
    numTrainImages,
    numRegImages,
    regImagesPerEpoch: registered.filter((r) => r.subset.isReg).reduce((sum, r) => sum + r.perEpoch, 0),
    meanAspectError: aspectErrors.reduce((a, b) => a + b, 0) / aspectErrors.length,
    batchSize: options.batchSize,
    gradientAccumulationSteps: options.gradientAccumulationSteps,
    numProcesses,
    ...length,
    seed: options.seed,
    bucketSettings,
    warnings: [...checked.warnings, ...warnings],
  };
}

/**
 * Training images are used `repeats` times per epoch. Regularization images, as in sd-scripts'
 * DreamBoothDataset: registered in order with their folder's repeats until they reach the number of training
 * images, then cycled one more use at a time until the counts match; the images never reached are unused.
 */
export function registerImages(subsets: KohyaSubset[]) {
  const registered: Registered[] = [];
  let numTrainImages = 0;
  let numRegImages = 0;
  const regs: Registered[] = [];
  for (const subset of subsets) {
    for (const image of subset.images) {
      const entry = { image, subset, perEpoch: subset.repeats };
      if (subset.isReg) regs.push(entry);
      else registered.push(entry);
    }
    if (subset.isReg) numRegImages += subset.repeats * subset.images.length;
    else numTrainImages += subset.repeats * subset.images.length;
  }
  const warnings: string[] = [];
  if (numRegImages > numTrainImages) {
    warnings.push(
      `there are more regularization images (${numRegImages} with repeats) than training images ` +
        `(${numTrainImages}): some are not used`,
    );
  }
  if (regs.length > 0) registered.push(...cycleRegImages(regs, numTrainImages));
  return { registered, numTrainImages, numRegImages, warnings };
}

function cycleRegImages(regs: Registered[], target: number): Registered[] {
  const used: Registered[] = [];
  let count = 0;
  for (const entry of regs) {
    if (count >= target) break;
    used.push(entry);
    count += entry.perEpoch;
  }
  for (let i = 0; count < target; i = (i + 1) % used.length) {
    (used[i] as Registered).perEpoch += 1;
    count += 1;
  }
  return used;
}

function bucketRule(settings: BucketSettings): BucketRule {
  if (!settings.enableBucket) return { kind: "predefined", buckets: [settings.resolution] };
  if (settings.bucketNoUpscale) {
    const [width, height] = settings.resolution;
    return { kind: "noUpscale", maxArea: width * height, step: settings.bucketResoSteps };
  }
  const { resolution, minBucketReso: minReso, maxBucketReso: maxReso, bucketResoSteps: step } = settings;
  return { kind: "predefined", buckets: makeBuckets({ resolution, minReso, maxReso, step }) };
}

function specImageFor(entry: Registered, rule: BucketRule, options: PlanOptions, random: () => number) {
  const { image, subset } = entry;
  const choice = selectBucket([image.width, image.height], rule);
  if (choice.bucket[0] < 1 || choice.bucket[1] < 1) {
    throw new DanluError(
      `image '${image.path}' (${image.width}x${image.height}) is too narrow: its bucket would be ` +
        `${choice.bucket[0]}x${choice.bucket[1]} px`,
      { hint: "crop it to a less extreme aspect ratio, or remove it" },
    );
  }
  const crop = cropOffset(choice.resized, choice.bucket, { randomCrop: options.randomCrop, rng: random });
  const spec: SpecImage = {
    path: image.path,
    width: image.width,
    height: image.height,
    bucket: choice.bucket,
    resized: choice.resized,
    crop,
    flip: options.flipAug,
    is_reg: subset.isReg,
    loss_weight: subset.isReg ? options.priorLossWeight : 1.0,
  };
  return { image: spec, aspectError: choice.aspectError };
}

/** Each bucket in use (sorted by size) with its image indices, each repeated perEpoch times. */
function bucketContents(images: SpecImage[], registered: Registered[]): BucketContents[] {
  const byKey = new Map<string, BucketContents>();
  images.forEach((image, index) => {
    const key = image.bucket.join("x");
    const bucket = byKey.get(key) ?? { size: image.bucket, items: [] };
    byKey.set(key, bucket);
    for (let i = 0; i < (registered[index] as Registered).perEpoch; i++) bucket.items.push(index);
  });
  return [...byKey.values()].sort((a, b) => a.size[0] - b.size[0] || a.size[1] - b.size[1]);
}

function summarizeSubsets(subsets: KohyaSubset[], registered: Registered[]): PlanSubset[] {
  return subsets.map((subset) => ({
    dir: subset.dir,
    name: subset.name,
    isReg: subset.isReg,
    repeats: subset.repeats,
    imageCount: subset.images.length,
    perEpoch: registered.filter((r) => r.subset === subset).reduce((sum, r) => sum + r.perEpoch, 0),
  }));
}
