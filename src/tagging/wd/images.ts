import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
// The tagger reads what training reads: the one list of dataset image extensions.
import { IMAGE_EXTENSIONS } from "../../dataset/images.ts";

/**
 * Image files under `dir` as paths relative to it (with `/` separators, the manifest's keys),
 * sorted. Hidden files are skipped, and so are folders starting with "." or "_" (danlu's own, such
 * as `_rejected/` from `danlu data check --fix`). Only names are held in memory, never pixels.
 */
export async function listImages(dir: string, recursive: boolean): Promise<string[]> {
  const found: string[] = [];
  async function walk(folder: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory() && recursive && !entry.name.startsWith("_")) await walk(path);
      else if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        found.push(relative(dir, path).split(sep).join("/"));
      }
    }
  }
  await walk(dir);
  return found.sort();
}

export interface ImageFile {
  /** Relative to the dataset folder, `/`-separated. */
  name: string;
  path: string;
  bytes: Buffer;
  sha256: string;
}

export async function readImageFile(dir: string, name: string): Promise<ImageFile> {
  const path = join(dir, ...name.split("/"));
  const bytes = await readFile(path);
  return { name, path, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}
