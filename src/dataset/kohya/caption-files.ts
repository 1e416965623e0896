import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { DanluError } from "../../errors.ts";

/** sd-scripts adds the dot when it is missing ("txt" -> ".txt"). */
export function normalizeCaptionExtension(extension: string): string {
  return extension.startsWith(".") ? extension : `.${extension}`;
}

/**
 * The caption files sd-scripts looks for, in order: the image's stem + extension, then, for names of 5 or
 * more "_"-separated parts (face-crop outputs such as "img_0_1_2_3.png"), the name without the last four.
 */
export function captionCandidates(imagePath: string, extension: string): string[] {
  const stem = imagePath.slice(0, imagePath.length - extname(imagePath).length);
  const candidates = [stem + extension];
  // sd-scripts splits the whole path; danlu only the file name, so "_" in folder names cannot interfere.
  const parts = basename(stem).split("_");
  if (parts.length >= 5) candidates.push(join(dirname(stem), parts.slice(0, -4).join("_")) + extension);
  return candidates;
}

export interface CaptionRead {
  /** The caption (first line, trimmed), or null when the image has no caption file. */
  caption: string | null;
  /** The caption file used, if any. */
  file: string | null;
  warnings: string[];
}

/** Reads the caption of one image: UTF-8 with or without a BOM; only the first line counts, as in sd-scripts. */
export async function readCaptionFor(
  imagePath: string,
  extension: string,
  existing: Set<string>,
): Promise<CaptionRead> {
  const file = captionCandidates(imagePath, extension).find((candidate) => existing.has(candidate));
  if (!file) return { caption: null, file: null, warnings: [] };
  const bytes = await readFile(file);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); // drops a leading BOM
  } catch (error) {
    throw new DanluError(`caption file '${file}' is not valid UTF-8`, {
      hint: "save it as UTF-8 (most editors have an encoding choice in 'Save as')",
      cause: error,
    });
  }
  const lines = text.split(/\r\n|\r|\n/);
  const caption = (lines[0] ?? "").trim();
  const warnings: string[] = [];
  if (text.trim() === "") {
    warnings.push(`caption file '${file}' is empty: the image trains with an empty caption`);
  } else if (lines.slice(1).some((line) => line.trim() !== "")) {
    warnings.push(`caption file '${file}' has several lines: only the first is used, as in sd-scripts`);
  }
  return { caption, file, warnings };
}

/** All files in `dir` whose name ends with `extension` (exact case, as the lookup is on Linux). */
export async function listCaptionFiles(dir: string, extension: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory() && entry.name.endsWith(extension) && entry.name !== extension)
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** Caption files that belong to no image: usually a renamed or deleted image, or a caption in the wrong folder. */
export function orphanCaptionError(orphans: string[]): DanluError {
  const list = orphans.map((file) => `  ${file}`).join("\n");
  return new DanluError(`${orphans.length} caption file(s) have no image beside them:\n${list}`, {
    hint: `add the matching image (same name, image extension), or delete or move the caption file(s); ${
      orphans.length === 1 ? basename(orphans[0] as string) : "they"
    } would otherwise be silently unused`,
  });
}
