import { mkdir, readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import { writeNewFile } from "../images.ts";
import { NameAllocator } from "../import/names.ts";
import { readManifest, writeManifest, type ManifestImage } from "../manifest.ts";

/**
 * The folder crop, upscale and matte write into: new images with unique names, each image's caption
 * copied beside it, and the folder's manifest kept up to date. The source folder is never written.
 */
export interface OutputFolder {
  dir: string;
  /** Writes the image under the source file's stem (made unique) with its caption; returns the name. */
  add(sourceFile: string, png: Buffer, record: ManifestImage): Promise<string>;
  save(): Promise<void>;
}

export async function openOutputFolder(outDir: string, sourceDir: string): Promise<OutputFolder> {
  const dir = resolve(outDir);
  if (dir === resolve(sourceDir)) {
    throw new DanluError(`--out ${outDir} is the folder being read`, {
      hint: "write to a new folder; the originals stay untouched",
    });
  }
  await mkdir(dir, { recursive: true });
  const manifest = await readManifest(dir);
  const names = new NameAllocator(await readdir(dir));
  return {
    dir,
    add: async (sourceFile, png, record) => {
      const stem = sourceFile.replace(/\.[^.]+$/, "");
      const name = names.reserve(stem, ".png");
      await writeNewFile(join(dir, name), png);
      const caption = await readFile(join(sourceDir, stem + ".txt")).catch(() => undefined);
      if (caption) await writeNewFile(join(dir, name.replace(/\.png$/, ".txt")), caption);
      manifest.images[name] = record;
      return name;
    },
    save: () => writeManifest(dir, manifest),
  };
}
