import sharp from "sharp";
import type { RawImage } from "../images.ts";

/**
 * Sharpness = variance of the Laplacian (the 4-neighbour kernel 0 1 0 / 1 -4 1 / 0 1 0) of the grey
 * image after resizing it so its long side is NORMALISED_SIDE: the same measure at the same scale for
 * every photo, and the scale the photo is trained at.
 */
export const NORMALISED_SIDE = 512;

/**
 * Below this an image is flagged blurry. Calibrated on the sample photos: the five originals score
 * 190 (the soft cat photo) to 1,280; Gaussian-blurred copies score 5-17 at sigma 2 and 25-175 at
 * sigma 1; a 200 px wide copy enlarged back scores 18-75. 60 sits at a third of the softest sharp
 * photo and well above every sigma-2 copy (check.test.ts keeps these figures honest).
 */
export const DEFAULT_BLUR_THRESHOLD = 60;

/** Grey pixels with the long side at NORMALISED_SIDE (small images are enlarged, which is fair: so are they in training). */
export async function normalisedGrey(rgb: RawImage): Promise<RawImage> {
  const { data, info } = await sharp(rgb.data, {
    raw: { width: rgb.width, height: rgb.height, channels: rgb.channels as 3 },
  })
    .greyscale()
    .resize(NORMALISED_SIDE, NORMALISED_SIDE, { fit: "inside", kernel: "lanczos3" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 1 };
}

export function laplacianVariance(grey: RawImage): number {
  const { data, width, height } = grey;
  let sum = 0;
  let sumSquares = 0;
  let count = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const value =
        (data[i - width] ?? 0) +
        (data[i + width] ?? 0) +
        (data[i - 1] ?? 0) +
        (data[i + 1] ?? 0) -
        4 * (data[i] ?? 0);
      sum += value;
      sumSquares += value * value;
      count += 1;
    }
  }
  if (count === 0) return 0;
  const mean = sum / count;
  return sumSquares / count - mean * mean;
}
