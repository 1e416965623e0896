import { randomBytes } from "node:crypto";
import { link, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { extname } from "node:path";
import sharp, { type Sharp } from "sharp";
import { DanluError } from "../errors.ts";

/**
 * Image helpers shared by import, check, crop and upscale: one place that says which files are
 * images, how an image is decoded safely and how it is written.
 */

/**
 * Extensions of dataset images (lower case, with the dot): the formats that both sharp (danlu measures,
 * checks, crops and tags with it) and Pillow (the engine trains with it) decode; GIF and TIFF by their
 * first frame. The one list for every reader of a dataset folder: check, crop, tags, the tagger, layout
 * and the kohya train_data_dir reader.
 *
 * sd-scripts (train_util.IMAGE_EXTENSIONS) reads .png .jpg .jpeg .webp .bmp, plus .avif and .jxl when
 * optional Pillow plugins are installed. Where danlu differs: it also reads .tif, .tiff and .gif (and
 * .avif always: the pinned Pillow 13 decodes it); it does not read .bmp, which sharp cannot decode (convert
 * BMP to PNG), nor .jxl (neither library decodes it here).
 */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  ".png",
  ".jpg",
  ".jpeg",
  ".webp",
  ".avif",
  ".tif",
  ".tiff",
  ".gif",
]);

/**
 * What `danlu data import` takes besides: it converts every image to PNG, so formats Pillow cannot open
 * are fine there. .jfif is JPEG under another name; HEIC/HEIF only where sharp's libheif has HEVC.
 */
export const IMPORT_EXTENSIONS: ReadonlySet<string> = new Set([
  ...IMAGE_EXTENSIONS,
  ".jfif",
  ".heic",
  ".heif",
]);

export const CAPTION_EXTENSIONS = [".txt", ".caption"];

/**
 * Decompression-bomb guard: the most pixels one image may declare (width x height). 100 megapixels
 * is a 12,000 x 8,000 photo, more than any camera a dataset comes from, and about 400 MB of RGBA.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** A dataset image by its extension (any letter case). */
export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

/** A file `danlu data import` converts (any letter case). */
export function isImportableImage(name: string): boolean {
  return IMPORT_EXTENSIONS.has(extname(name).toLowerCase());
}

export interface RgbBackground {
  r: number;
  g: number;
  b: number;
}

/** Parses `white`, `black`, `#rgb` or `#rrggbb` (the flatten colour for transparent pixels). */
export function parseBackground(text: string): RgbBackground | undefined {
  const named: Record<string, string> = {
    white: "#ffffff",
    black: "#000000",
    gray: "#808080",
    grey: "#808080",
  };
  let hex = (named[text.toLowerCase()] ?? text).replace(/^#/, "");
  if (/^[0-9a-f]{3}$/i.test(hex)) hex = [...hex].map((c) => c + c).join("");
  if (!/^[0-9a-f]{6}$/i.test(hex)) return undefined;
  const value = Number.parseInt(hex, 16);
  return { r: (value >> 16) & 255, g: (value >> 8) & 255, b: value & 255 };
}

/**
 * Opens an image for reading with the safety settings every caller needs: the pixel limit, failing on
 * truncated or corrupt data instead of returning grey pixels, and only the first frame of a GIF/WebP
 * animation.
 */
export function openImage(input: Buffer | string, maxPixels = DEFAULT_MAX_PIXELS): Sharp {
  return sharp(input, { limitInputPixels: maxPixels, failOn: "warning", pages: 1, page: 0 });
}

/**
 * The canonical pixels of a dataset image: EXIF orientation applied, converted to 8-bit sRGB (16-bit,
 * CMYK, grey and palette inputs included), alpha flattened onto the background.
 */
export function canonicalPixels(
  input: Buffer | string,
  background: RgbBackground,
  maxPixels = DEFAULT_MAX_PIXELS,
): Sharp {
  return openImage(input, maxPixels).autoOrient().flatten({ background }).toColourspace("srgb");
}

/** PNG settings for dataset files: lossless; level 6 is zlib's default speed/size balance. */
export function encodePng(image: Sharp): Promise<Buffer> {
  return image.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
}

/** 8-bit raw pixels with a fixed channel count, as typed data plus the size. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

export async function toRaw(image: Sharp, channels: 1 | 3): Promise<RawImage> {
  const pipeline = channels === 1 ? image.greyscale() : image.removeAlpha().toColourspace("srgb");
  const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** The image files directly inside DIR (not recursive), sorted by name. */
export async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT" && error.code !== "ENOTDIR") throw error;
    throw new DanluError(`${dir} is not a folder`, {
      hint: "give the dataset folder made by danlu data import",
    });
  });
  return entries
    .filter((entry) => entry.isFile() && isImageFile(entry.name))
    .map((entry) => entry.name)
    .sort();
}

/** Runs `work` on every item with at most `concurrency` in flight; results keep the input order. */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, runner));
  return results;
}

/**
 * Writes a file that must not exist yet: to a temp file in the same folder, then hard-linked into
 * place, which fails instead of overwriting (rename would replace silently). Filesystems without hard
 * links (FAT, some network shares) fall back to check-then-rename.
 */
export async function writeNewFile(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, data);
  try {
    await link(temp, path);
    await unlink(temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || !(code === "EPERM" || code === "ENOTSUP" || code === "EXDEV")) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    ) {
      await unlink(temp).catch(() => {});
      throw Object.assign(new Error(`${path} already exists`), { code: "EEXIST" });
    }
    await rename(temp, path);
  }
}

/** Writes a file atomically, replacing any earlier version (temp file in the same folder, then rename). */
export async function replaceFile(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}
