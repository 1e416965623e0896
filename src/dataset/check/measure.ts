import { join } from "node:path";
import type { Detector } from "../crop/detector.ts";
import { canonicalPixels, toRaw } from "../images.ts";
import { hashToHex, perceptualHash } from "./phash.ts";
import { laplacianVariance, normalisedGrey } from "./sharpness.ts";

/** What `danlu data check` measures of one image (before thresholds turn it into flags). */
export interface ImageMeasure {
  file: string;
  width: number;
  height: number;
  /** Variance of the Laplacian at 512 px on the long side. */
  sharpness: number;
  /** 64-bit DCT pHash as 16 hex digits. */
  phash: string;
  /** Absent when detection was turned off. */
  faces?: number;
  people?: number;
  /** Set when the file could not be decoded; the other numbers are then 0. */
  error?: string;
}

/** Decoded at most this big (px, long side) for measuring: the detector input size, above the 512 px sharpness scale. */
const WORKING_SIDE = 640;
const WHITE = { r: 255, g: 255, b: 255 };

export async function measureImage(
  dir: string,
  file: string,
  detector: Detector | undefined,
): Promise<ImageMeasure> {
  const path = join(dir, file);
  try {
    const meta = await canonicalPixels(path, WHITE).metadata();
    const width = meta.autoOrient.width;
    const height = meta.autoOrient.height;
    const working = await toRaw(
      canonicalPixels(path, WHITE).resize(WORKING_SIDE, WORKING_SIDE, {
        fit: "inside",
        withoutEnlargement: true,
      }),
      3,
    );
    const grey = await normalisedGrey(working);
    const measure: ImageMeasure = {
      file,
      width,
      height,
      sharpness: Math.round(laplacianVariance(grey) * 10) / 10,
      phash: hashToHex(await perceptualHash(grey)),
    };
    if (detector) {
      const found = await detector.detect(working);
      measure.faces = found.faces.length;
      measure.people = found.people;
    }
    return measure;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    return { file, width: 0, height: 0, sharpness: 0, phash: "0".repeat(16), error: message };
  }
}
