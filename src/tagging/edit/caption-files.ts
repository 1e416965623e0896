import { readFile, readdir } from "node:fs/promises";
import { join, posix } from "node:path";
import { DanluError } from "../../errors.ts";
import { isImageFile } from "../../dataset/images.ts";
import { writeBatchWithBackup } from "../backup.ts";
import { formatCaption, parseCaption, type CaptionEntry } from "./caption.ts";

/**
 * The caption files of a dataset folder: one entry per image (an image without a caption file has no
 * tags), the caption being the file with the image's stem and the caption extension.
 */

export const DEFAULT_CAPTION_EXTENSION = ".txt";

export interface CaptionFolderOptions {
  /** ".txt" (default) or ".caption"; a leading dot is added when missing. */
  extension: string;
  /** Also read subfolders (a kohya train_data_dir with {repeats}_{name}/); dot-folders are skipped. */
  recursive: boolean;
}

export function normalizeCaptionExtension(extension: string): string {
  const withDot = extension.startsWith(".") ? extension : `.${extension}`;
  if (!/^\.[A-Za-z0-9_-]+$/u.test(withDot)) {
    throw new DanluError(`caption extension ${JSON.stringify(extension)} is not a file extension`, {
      hint: "use something like .txt or .caption",
    });
  }
  return withDot;
}

/** The caption file of an image: same folder and stem, caption extension. Paths use forward slashes. */
export function captionFileFor(imageFile: string, extension: string): string {
  const parsed = posix.parse(imageFile);
  return posix.join(parsed.dir, parsed.name + normalizeCaptionExtension(extension));
}

/** Caption text from bytes: UTF-8 with or without BOM, UTF-16 with BOM. */
export function decodeCaptionText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return Buffer.from(bytes.subarray(2)).swap16().toString("utf16le");
  const text = bytes.toString("utf8");
  return text.startsWith("\ufeff") ? text.slice(1) : text;
}

/** Image files under root (relative, forward slashes, sorted). */
async function listImageFiles(root: string, recursive: boolean, prefix = ""): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (prefix === "" && (code === "ENOENT" || code === "ENOTDIR")) {
      throw new DanluError(`${root} is not a folder`, { hint: "give the dataset folder holding the images" });
    }
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile() && isImageFile(entry.name)) files.push(path);
    else if (entry.isDirectory() && recursive && !entry.name.startsWith(".")) {
      files.push(...(await listImageFiles(root, recursive, path)));
    }
  }
  return files;
}

async function readCaptionFile(path: string): Promise<string | null> {
  try {
    return decodeCaptionText(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Every image of the folder with its tags, in file-name order. */
export async function readFolderCaptions(
  root: string,
  options: CaptionFolderOptions,
): Promise<CaptionEntry[]> {
  const images = await listImageFiles(root, options.recursive);
  return Promise.all(
    images.map(async (file) => {
      const text = await readCaptionFile(join(root, captionFileFor(file, options.extension)));
      return { file, tags: text === null ? [] : parseCaption(text) };
    }),
  );
}

/** Writes the new tags of the changed entries as one undoable batch (see backup.ts). */
export async function writeFolderCaptions(
  root: string,
  changed: readonly CaptionEntry[],
  extension: string,
  operation: string,
): Promise<{ batch: number | null; written: number }> {
  const writes = changed.map((entry) => ({
    path: captionFileFor(entry.file, extension),
    text: formatCaption(entry.tags),
  }));
  return writeBatchWithBackup(root, writes, operation);
}
