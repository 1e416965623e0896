import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { listImages, mapPool, openImage } from "../images.ts";
import { readManifest, type ManifestImage } from "../manifest.ts";
import { openOutputFolder, type OutputFolder } from "./output.ts";
import { detectInFile, loadDetector } from "./detector.ts";
import { chooseCrop, type AspectChoice, type CropMode, type MultiPolicy, type Rect } from "./region.ts";

export interface CropOptions {
  outDir: string;
  mode: CropMode;
  /** Extra space around the subject, as a fraction of its size on each side. @defaultValue 0.3 */
  margin: number;
  aspect: AspectChoice;
  multi: MultiPolicy;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The choices `danlu data crop` and the service's crop job make when none is given. */
export const CROP_DEFAULTS = {
  mode: "upper-body",
  margin: 0.3,
  aspect: "bucket",
  multi: "largest",
} as const satisfies Pick<CropOptions, "mode" | "margin" | "aspect" | "multi">;

export interface CropEntry {
  file: string;
  status: "cropped" | "skipped";
  reason?: string;
  output?: string;
  rect?: Rect;
}

export interface CropReport {
  outDir: string;
  entries: CropEntry[];
}

/** `danlu data crop`: one crop per image around its subject, written with its caption into a new folder. */
export async function cropDataset(dir: string, options: CropOptions): Promise<CropReport> {
  const detector = await loadDetector();
  const files = await listImages(dir);
  const manifest = await readManifest(dir);
  const output = await openOutputFolder(options.outDir, dir);
  let done = 0;
  try {
    const entries = await mapPool(files, options.concurrency ?? availableParallelism(), async (file) => {
      const entry = await cropOne(dir, file, options, output, detector, manifest.images[file]);
      options.onProgress?.(++done, files.length);
      return entry;
    });
    return { outDir: output.dir, entries };
  } finally {
    await output.save();
  }
}

async function cropOne(
  dir: string,
  file: string,
  options: CropOptions,
  output: OutputFolder,
  detector: Awaited<ReturnType<typeof loadDetector>>,
  record: ManifestImage | undefined,
): Promise<CropEntry> {
  const path = join(dir, file);
  let choice;
  try {
    const meta = await openImage(path).autoOrient().metadata();
    const size = { width: meta.autoOrient.width, height: meta.autoOrient.height };
    choice = chooseCrop(await detectInFile(detector, path), size, options);
  } catch (error) {
    return { file, status: "skipped", reason: `cannot read: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!choice.rect) return { file, status: "skipped", reason: choice.reason ?? "no subject" };
  const rect = choice.rect;
  const png = await openImage(path).autoOrient().extract(rect).png().toBuffer();
  const written = await output.add(file, png, {
    source: record?.source ?? path,
    sha256: createHash("sha256").update(png).digest("hex"),
    width: rect.width,
    height: rect.height,
    imported_at: new Date().toISOString(),
    derived_from: { file, operation: `crop ${options.mode}`, rect },
  });
  return { file, status: "cropped", output: written, rect };
}
