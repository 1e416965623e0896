import { readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import sharp from "sharp";
import { isImageFile } from "../images.ts";

/**
 * Image formats people drop into dataset folders that danlu does not train on (which ones it does, and
 * how that differs from sd-scripts: IMAGE_EXTENSIONS in src/dataset/images.ts).
 */
const SKIPPED_IMAGE_EXTENSIONS = [".bmp", ".heic", ".heif", ".jxl", ".jfif"];

/** The image files of one folder (not recursive), sorted, and the names of image files it skipped. */
export async function listImages(dir: string): Promise<{ images: string[]; skipped: string[] }> {
  const images: string[] = [];
  const skipped: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() || entry.name.startsWith(".")) continue;
    if (isImageFile(entry.name)) images.push(join(dir, entry.name));
    else if (SKIPPED_IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) skipped.push(entry.name);
  }
  return { images: images.sort(), skipped: skipped.sort() };
}

/** BMP is the one format sd-scripts trains on that danlu cannot read: skipping it would change the dataset. */
export function isBmp(fileName: string): boolean {
  return extname(fileName).toLowerCase() === ".bmp";
}

export type ImageSizeResult =
  { path: string; width: number; height: number } | { path: string; error: string };
/**
 * The size of an image after EXIF orientation (a phone photo stored landscape with "rotate 90" is
 * portrait). The pixels are decoded too, at a tiny size, so that a truncated or corrupt file is found
 * now rather than in the middle of training.
 */
export async function readImageSize(path: string): Promise<ImageSizeResult> {
  try {
    const image = sharp(path, { failOn: "truncated" });
    const metadata = await image.metadata();
    await image.resize(8, 8, { fit: "fill" }).raw().toBuffer();
    const { width, height } = metadata.autoOrient;
    if (!(width > 0 && height > 0)) return { path, error: "the image has no size" };
    return { path, width, height };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { path, error: message.split("\n")[0] ?? message };
  }
}

/** readImageSize over many files, a few at a time (sharp decodes on its own threads). */
export async function readImageSizes(paths: string[], concurrency = 4): Promise<ImageSizeResult[]> {
  const results: ImageSizeResult[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const index = next++;
      results[index] = await readImageSize(paths[index] as string);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return results;
}
