import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type ort from "onnxruntime-node";
import sharp from "sharp";
import { openOutputFolder } from "../crop/output.ts";
import { listImages, mapPool, openImage, toRaw } from "../images.ts";
import { readManifest } from "../manifest.ts";
import { loadOnnxModel, superResolve } from "./onnx-image.ts";

/**
 * Never enlarge more than this: past 2x a model invents detail and Lanczos smears it, and the LoRA
 * learns the artefacts as part of the subject (the guides' rule: upscale under 512 px, at most 2x).
 */
export const MAX_UPSCALE = 2;

export interface UpscaleOptions {
  outDir: string;
  /** Short side every image should reach. @defaultValue 512 */
  target: number;
  /** A super-resolution ONNX model; without one, Lanczos resampling (with a warning). */
  model?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface UpscaleEntry {
  file: string;
  status: "upscaled" | "kept" | "failed";
  output?: string;
  factor?: number;
  reason?: string;
}

export interface UpscaleReport {
  outDir: string;
  method: "model" | "lanczos";
  warnings: string[];
  entries: UpscaleEntry[];
}

/** `danlu data upscale`: a copy of DIR where every image's short side reaches the target (at most 2x). */
export async function upscaleDataset(dir: string, options: UpscaleOptions): Promise<UpscaleReport> {
  const session = options.model ? await loadOnnxModel(options.model) : undefined;
  const warnings = session
    ? []
    : [
        "no super-resolution model given (--model FILE.onnx): Lanczos resampling enlarges without adding detail",
      ];
  const files = await listImages(dir);
  const manifest = await readManifest(dir);
  const output = await openOutputFolder(options.outDir, dir);
  let done = 0;
  try {
    // One image at a time through the model (onnxruntime already uses every core); Lanczos in parallel.
    const entries = await mapPool(files, session ? 1 : 4, async (file) => {
      const source = manifest.images[file]?.source ?? join(dir, file);
      const entry = await upscaleOne({ dir, file, source }, options.target, session, output);
      options.onProgress?.(++done, files.length);
      return entry;
    });
    const stillSmall = entries.filter((entry) => entry.reason?.startsWith("still")).length;
    if (stillSmall > 0)
      warnings.push(`${stillSmall} images stay under ${options.target} px after the ${MAX_UPSCALE}x limit`);
    return { outDir: output.dir, method: session ? "model" : "lanczos", warnings, entries };
  } finally {
    await output.save();
  }
}

async function upscaleOne(
  { dir, file, source }: { dir: string; file: string; source: string },
  target: number,
  session: ort.InferenceSession | undefined,
  output: Awaited<ReturnType<typeof openOutputFolder>>,
): Promise<UpscaleEntry> {
  const path = join(dir, file);
  let png: Buffer;
  let factor = 1;
  let width: number;
  let height: number;
  try {
    const raw = await toRaw(openImage(path).autoOrient(), 3);
    factor = Math.min(MAX_UPSCALE, target / Math.min(raw.width, raw.height));
    width = Math.round(raw.width * Math.max(1, factor));
    height = Math.round(raw.height * Math.max(1, factor));
    png = factor <= 1 ? await readFile(path) : await enlarge(raw, width, height, session);
  } catch (error) {
    return { file, status: "failed", reason: String(error).split("\n")[0] };
  }
  const operation = factor <= 1 ? "copy" : `upscale ${factor.toFixed(3)}x ${session ? "model" : "lanczos"}`;
  const written = await output.add(file, png, {
    source,
    sha256: createHash("sha256").update(png).digest("hex"),
    width,
    height,
    imported_at: new Date().toISOString(),
    derived_from: { file, operation },
  });
  if (factor <= 1) return { file, status: "kept", output: written };
  const reason =
    factor >= MAX_UPSCALE && Math.min(width, height) < target ? "still under target after 2x" : undefined;
  return { file, status: "upscaled", output: written, factor, ...(reason ? { reason } : {}) };
}

async function enlarge(
  raw: Awaited<ReturnType<typeof toRaw>>,
  width: number,
  height: number,
  session: ort.InferenceSession | undefined,
): Promise<Buffer> {
  const source = session ? await superResolve(session, raw) : raw;
  return sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel: "lanczos3" })
    .png()
    .toBuffer();
}
