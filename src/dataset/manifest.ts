import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { DanluError } from "../errors.ts";

/**
 * DIR/manifest.json: what danlu knows about each image of a prepared dataset folder, keyed by the
 * image's file name inside DIR. Features add their own optional fields (tag probabilities, check
 * results); unknown fields written by a newer danlu are kept, not dropped.
 */
export const MANIFEST_FILE = "manifest.json";

export const manifestImage = z.looseObject({
  source: z.string(), // the original's path (or `archive.zip:entry`) as given to import
  sha256: z.string(), // of the written file
  width: z.number().int(),
  height: z.number().int(),
  imported_at: z.string(), // ISO 8601
  // tagger name -> tag -> probability (all tags above a low floor, so thresholds can change later)
  tags: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  source_sha256: z.string().optional(), // of the original's bytes: a re-import skips exact duplicates
  source_bytes: z.number().int().optional(), // the original's size in bytes
  caption_source: z.string().optional(), // the caption file imported beside the image
  // what `danlu data check` measured (sharpness: variance of the Laplacian at 512 px; phash: 16 hex digits)
  check: z
    .looseObject({ sharpness: z.number(), phash: z.string(), faces: z.number().int().optional() })
    .optional(),
  // set by crop/upscale/matte: the image it was made from (a file name in the source folder) and how
  derived_from: z.looseObject({ file: z.string(), operation: z.string() }).optional(),
  rejected: z.looseObject({ reason: z.string(), at: z.string() }).optional(), // set in DIR/_rejected/
});
export type ManifestImage = z.infer<typeof manifestImage>;

export const manifest = z.looseObject({
  version: z.literal(1),
  images: z.record(z.string(), manifestImage),
});
export type Manifest = z.infer<typeof manifest>;

export function emptyManifest(): Manifest {
  return { version: 1, images: {} };
}

/** Reads DIR/manifest.json; a folder without one gets an empty manifest. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyManifest();
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DanluError(`${path} is not valid JSON`, {
      hint: "restore it from a backup or delete it (danlu data import rebuilds it)",
      cause: error,
    });
  }
  const parsed = manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DanluError(`${path}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}`, {
      hint: "the manifest was edited by hand or by another tool; fix that key or delete the file",
    });
  }
  return parsed.data;
}

/** Writes DIR/manifest.json atomically (temp file in DIR, then rename). */
export async function writeManifest(dir: string, data: Manifest): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(data, null, 2) + "\n");
  await rename(temp, path);
}
