/**
 * Aspect-ratio buckets, made and assigned exactly as kohya-ss/sd-scripts does it
 * (library/model_util.py make_bucket_resolutions, library/train_util.py BucketManager and
 * trim_and_resize_if_required), so that a dataset trains at the same sizes in danlu and in sd-scripts.
 * All sizes are [width, height] in pixels.
 */

export type Size = [width: number, height: number];

/** A random source in [0, 1); see src/training/rng.ts. */
export type RandomSource = () => number;

/** Python's int(x + 0.5) for the non-negative values used here: round half up. */
function roundHalfUp(x: number): number {
  return Math.floor(x + 0.5);
}

function compareSizes(a: Size, b: Size): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * The predefined buckets for `resolution`: the square of the same area, and for each width from minReso to
 * maxReso (by step) the tallest height within the area and maxReso, with its transpose. Sorted by width, then
 * height, as Python sorts tuples.
 */
export function makeBuckets(options: {
  resolution: Size;
  minReso: number;
  maxReso: number;
  step: number;
}): Size[] {
  const { resolution, minReso, maxReso, step } = options;
  const maxArea = resolution[0] * resolution[1];
  const found = new Map<string, Size>();
  const add = (size: Size): void => void found.set(`${size[0]}x${size[1]}`, size);

  const side = Math.floor(Math.sqrt(maxArea) / step) * step;
  add([side, side]);
  for (let width = minReso; width <= maxReso; width += step) {
    const height = Math.min(maxReso, Math.floor(Math.floor(maxArea / width) / step) * step);
    if (height >= minReso) {
      add([width, height]);
      add([height, width]);
    }
  }
  return [...found.values()].sort(compareSizes);
}

/** How images are given buckets: from a predefined list, or from their own size (bucket_no_upscale). */
export type BucketRule =
  { kind: "predefined"; buckets: Size[] } | { kind: "noUpscale"; maxArea: number; step: number };

export interface BucketChoice {
  bucket: Size;
  /** The size the image is resized to before the crop; it covers the bucket. */
  resized: Size;
  /** bucket aspect minus image aspect (sd-scripts reports the mean of its absolute value). */
  aspectError: number;
}

export function selectBucket(imageSize: Size, rule: BucketRule): BucketChoice {
  const aspect = imageSize[0] / imageSize[1];
  let bucket: Size;
  let resized: Size;
  if (rule.kind === "predefined") {
    bucket = nearestPredefinedBucket(imageSize, rule.buckets);
    resized = coverSize(imageSize, bucket);
  } else {
    resized = noUpscaleSize(imageSize, rule.maxArea, rule.step);
    // The bucket is never larger than the image: crop the remainder, never pad.
    bucket = [resized[0] - (resized[0] % rule.step), resized[1] - (resized[1] % rule.step)];
  }
  return { bucket, resized, aspectError: bucket[0] / bucket[1] - aspect };
}

/** The image's own size if it is a bucket; else the first bucket with the smallest aspect-ratio error. */
function nearestPredefinedBucket(imageSize: Size, buckets: Size[]): Size {
  const exact = buckets.find((b) => b[0] === imageSize[0] && b[1] === imageSize[1]);
  if (exact) return exact;
  const aspect = imageSize[0] / imageSize[1];
  let best: Size | undefined;
  let bestError = Infinity;
  for (const bucket of buckets) {
    const error = Math.abs(bucket[0] / bucket[1] - aspect);
    if (error < bestError) {
      best = bucket;
      bestError = error; // strict: ties keep the earlier bucket, as numpy's argmin does
    }
  }
  if (!best) throw new Error("selectBucket: no predefined buckets");
  return best;
}

/** The smallest resize that covers the bucket: match the height if the image is wider than the bucket. */
export function coverSize(imageSize: Size, bucket: Size): Size {
  const [width, height] = imageSize;
  const scale = width / height > bucket[0] / bucket[1] ? bucket[1] / height : bucket[0] / width;
  return [roundHalfUp(width * scale), roundHalfUp(height * scale)];
}

/** sd-scripts' round_to_steps: round half up, then down to a multiple of step. */
function roundToSteps(x: number, step: number): number {
  const rounded = roundHalfUp(x);
  return rounded - (rounded % step);
}

/**
 * bucket_no_upscale: an image over maxArea is shrunk to about maxArea keeping its aspect; one side is
 * rounded to the step, choosing the side whose rounding keeps the aspect ratio closer.
 */
function noUpscaleSize(imageSize: Size, maxArea: number, step: number): Size {
  const [width, height] = imageSize;
  if (width * height <= maxArea) return [width, height];
  const aspect = width / height;
  const idealWidth = Math.sqrt(maxArea * aspect);
  const idealHeight = maxArea / idealWidth;

  const widthRounded = roundToSteps(idealWidth, step);
  const heightForWidth = roundToSteps(widthRounded / aspect, step);
  const heightRounded = roundToSteps(idealHeight, step);
  const widthForHeight = roundToSteps(heightRounded * aspect, step);
  // Python raises ZeroDivisionError on an extreme aspect that rounds a side to 0; treat that error as infinite.
  const widthChoiceError = heightForWidth > 0 ? Math.abs(widthRounded / heightForWidth - aspect) : Infinity;
  const heightChoiceError = heightRounded > 0 ? Math.abs(widthForHeight / heightRounded - aspect) : Infinity;

  if (widthChoiceError < heightChoiceError) return [widthRounded, roundHalfUp(widthRounded / aspect)];
  return [roundHalfUp(heightRounded * aspect), heightRounded];
}

export interface ResizeAndCrop {
  resized: Size;
  /** [left, top] of the bucket inside the resized image. */
  crop: [left: number, top: number];
}

/**
 * Where the bucket sits inside the resized image: centred (the overflow halved, rounded down), or at a
 * random offset (0..overflow inclusive on each axis) with randomCrop.
 */
export function cropOffset(
  resized: Size,
  bucket: Size,
  options: { randomCrop?: boolean; rng?: RandomSource } = {},
) {
  const pick = (overflow: number): number => {
    if (overflow <= 0) return 0;
    if (!options.randomCrop) return Math.floor(overflow / 2);
    if (!options.rng) throw new Error("cropOffset: randomCrop needs an rng");
    return Math.floor(options.rng() * (overflow + 1));
  };
  const left = pick(resized[0] - bucket[0]);
  const top = pick(resized[1] - bucket[1]);
  return [left, top] as [left: number, top: number];
}

/** For a predefined bucket: resize the image to cover it, then crop the overflow. */
export function resizeAndCropFor(
  imageSize: Size,
  bucket: Size,
  options: { randomCrop?: boolean; rng?: RandomSource } = {},
): ResizeAndCrop {
  const resized = coverSize(imageSize, bucket);
  return { resized, crop: cropOffset(resized, bucket, options) };
}
