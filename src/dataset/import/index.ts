import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import { readManifest, writeManifest, type Manifest, type ManifestImage } from "../manifest.ts";
import { DEFAULT_MAX_PIXELS, mapPool, writeNewFile, type RgbBackground } from "../images.ts";
import { decodeCaption, encodeCaption } from "./captions.ts";
import { convertToPng, decodeFailureReason } from "./convert.ts";
import { NameAllocator } from "./names.ts";
import { collectSources, firstLine, type ImportItem } from "./sources.ts";
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from "./zip.ts";

export interface ImportOptions {
  outDir: string;
  /** Colour transparent pixels are flattened onto. @defaultValue white */
  background?: RgbBackground;
  /** Decompression-bomb guard (width x height). @defaultValue 100,000,000 */
  maxPixels?: number;
  zipLimits?: ZipLimits;
  /** Images decoded at once; each holds one file's bytes. @defaultValue the number of cores */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export type ImportStatus = "imported" | "duplicate" | "rejected" | "skipped";

export interface ImportEntry {
  source: string;
  status: ImportStatus;
  reason?: string;
  /** The file written in the output folder (imported) or the one it duplicates. */
  file?: string;
}

export interface ImportReport {
  outDir: string;
  entries: ImportEntry[];
  counts: Record<ImportStatus, number>;
  seconds: number;
}

const CHECKPOINT_EVERY = 200; // images between manifest writes, so an interrupted import keeps its record

interface ImportRun {
  outDir: string;
  background: RgbBackground;
  maxPixels: number;
  manifest: Manifest;
  names: NameAllocator;
  /** sha256 of originals already in the folder or taken by this run -> the file name. */
  known: Map<string, string>;
}

/** `danlu data import`: copies images from folders, files and zips into one clean dataset folder. */
export async function importImages(
  sources: readonly string[],
  options: ImportOptions,
): Promise<ImportReport> {
  const started = performance.now();
  checkSourcesExist(sources);
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true }).catch((error: unknown) => {
    throw new DanluError(`cannot create the output folder ${outDir}: ${firstLine(error)}`, {
      hint: "choose a folder you can write to",
    });
  });
  const run = await startRun(outDir, options);
  const set = await collectSources(sources, outDir, options.zipLimits ?? DEFAULT_ZIP_LIMITS);
  const entries: ImportEntry[] = [
    ...set.rejected.map((r) => ({ source: r.origin, status: "rejected" as const, reason: r.reason })),
    ...set.skipped.map((r) => ({ source: r.origin, status: "skipped" as const, reason: r.reason })),
  ];
  let done = 0;
  try {
    const results = await mapPool(set.items, options.concurrency ?? availableParallelism(), async (item) => {
      const entry = await importOne(item, run);
      done += 1;
      if (entry.status === "imported" && done % CHECKPOINT_EVERY === 0) {
        await writeManifest(outDir, run.manifest);
      }
      options.onProgress?.(done, set.items.length);
      return entry;
    });
    entries.push(...results);
  } finally {
    set.close();
    await writeManifest(outDir, run.manifest);
  }
  return { outDir, entries, counts: countStatuses(entries), seconds: (performance.now() - started) / 1000 };
}

/** A source that is not there is a mistyped path: an error before anything is written, not an empty dataset. */
function checkSourcesExist(sources: readonly string[]): void {
  const missing = sources.filter((source) => !existsSync(source));
  if (missing.length === 0) return;
  const listed = missing.map((source) =>
    source === resolve(source) ? source : `${source} (${resolve(source)})`,
  );
  throw new DanluError(`no such file or folder: ${listed.join(", ")}`, {
    hint: "check the path; nothing was imported",
    code: "FILE_NOT_FOUND",
  });
}

async function startRun(outDir: string, options: ImportOptions): Promise<ImportRun> {
  const manifest = await readManifest(outDir);
  const known = new Map<string, string>();
  for (const [file, record] of Object.entries(manifest.images)) {
    known.set(record.source_sha256 ?? record.sha256, file);
  }
  return {
    outDir,
    background: options.background ?? { r: 255, g: 255, b: 255 },
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    manifest,
    names: new NameAllocator(await readdir(outDir)),
    known,
  };
}

/** Imports one image; every failure becomes a report entry, never an exception. */
async function importOne(item: ImportItem, run: ImportRun): Promise<ImportEntry> {
  const source = item.image.origin;
  let bytes: Buffer;
  try {
    bytes = await item.image.read();
  } catch (error) {
    return { source, status: "rejected", reason: `unreadable: ${firstLine(error)}` };
  }
  if (bytes.length === 0) return { source, status: "rejected", reason: "empty file (0 bytes)" };
  const sourceSha = createHash("sha256").update(bytes).digest("hex");
  const twin = run.known.get(sourceSha);
  if (twin !== undefined)
    return { source, status: "duplicate", reason: "same bytes as an imported image", file: twin };
  run.known.set(sourceSha, "(in progress)"); // reserved now so a concurrent identical file is a duplicate
  let converted;
  try {
    converted = await convertToPng(bytes, run.background, run.maxPixels);
  } catch (error) {
    run.known.delete(sourceSha);
    return {
      source,
      status: "rejected",
      reason: decodeFailureReason(error, run.maxPixels, item.image.relativeName),
    };
  }
  const stem = item.image.relativeName.split("/").pop() ?? "image";
  const file = run.names.reserve(stem.replace(/\.[^.]*$/, ""), ".png");
  await writeNewFile(join(run.outDir, file), converted.png);
  run.known.set(sourceSha, file);
  const record: ManifestImage = {
    source,
    sha256: createHash("sha256").update(converted.png).digest("hex"),
    width: converted.width,
    height: converted.height,
    imported_at: new Date().toISOString(),
    source_sha256: sourceSha,
    source_bytes: bytes.length,
  };
  const entry: ImportEntry = { source, status: "imported", file };
  if (item.caption) {
    const problem = await importCaption(item, file, run.outDir);
    if (problem) entry.reason = problem;
    else record.caption_source = item.caption.origin;
  }
  run.manifest.images[file] = record;
  return entry;
}

/** Writes `<image stem>.txt` as UTF-8; returns a warning when the caption could not be used. */
async function importCaption(
  item: ImportItem,
  imageFile: string,
  outDir: string,
): Promise<string | undefined> {
  if (!item.caption) return undefined;
  try {
    const { text } = decodeCaption(await item.caption.read());
    await writeNewFile(join(outDir, imageFile.replace(/\.png$/, ".txt")), encodeCaption(text));
    return undefined;
  } catch (error) {
    return `caption ${item.caption.origin} not imported: ${firstLine(error)}`;
  }
}

function countStatuses(entries: readonly ImportEntry[]): Record<ImportStatus, number> {
  const counts: Record<ImportStatus, number> = { imported: 0, duplicate: 0, rejected: 0, skipped: 0 };
  for (const entry of entries) counts[entry.status] += 1;
  return counts;
}

export { DEFAULT_ZIP_LIMITS, type ZipLimits } from "./zip.ts";
