import sharp from "sharp";

/**
 * Drift: how far a LoRA moves the base model on prompts WITHOUT its trigger word. Same prompt, same
 * seed, same sampler, base model alone vs base + LoRA; the distance is the mean absolute difference of
 * the two images' pixels (both scaled to DRIFT_SIDE x DRIFT_SIDE, RGB, 0..1). 0 means the LoRA left
 * those prompts untouched; a LoRA whose subject or style leaks into everything scores high.
 * A pixel distance is crude (a shifted but identical picture scores high), which is why the report
 * shows the images beside the number.
 */

/** Both images are compared at this size (px): small enough to ignore sampler noise in fine detail. */
export const DRIFT_SIDE = 64;

async function pixels(path: string): Promise<Buffer> {
  return sharp(path)
    .removeAlpha()
    .toColourspace("srgb")
    .resize(DRIFT_SIDE, DRIFT_SIDE, { fit: "fill" })
    .raw()
    .toBuffer();
}

/** Mean absolute pixel difference of two images, in [0, 1]. */
export async function imageDistance(a: string, b: string): Promise<number> {
  const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
  let sum = 0;
  for (let i = 0; i < pa.length; i++) sum += Math.abs((pa[i] ?? 0) - (pb[i] ?? 0));
  return sum / (pa.length * 255);
}

/** Mean distance over pairs (base image, LoRA image); null when there are no pairs. */
export async function driftOf(pairs: readonly { base: string; lora: string }[]): Promise<number | null> {
  if (pairs.length === 0) return null;
  let total = 0;
  for (const pair of pairs) total += await imageDistance(pair.base, pair.lora);
  return total / pairs.length;
}

/** True when every pixel is black: what a diffusion model's NaN output becomes when saved. */
export async function isBlack(path: string): Promise<boolean> {
  const stats = await sharp(path).stats();
  return stats.channels.every((channel) => channel.max === 0);
}
