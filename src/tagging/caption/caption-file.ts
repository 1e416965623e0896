import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";

/** How a new caption meets an existing caption file. */
export type ExistingCaption = "overwrite" | "append";

export interface ComposeOptions {
  /** A natural-language caption, placed before the tags. */
  sentence?: string | undefined;
  tags: readonly string[];
  separator: string;
  mode: ExistingCaption;
  /** The caption file's current text, if there is one. */
  existing?: string | undefined;
}

/**
 * The caption text: sentence first, then tags. In append mode the existing text stays as it is and
 * only the items it does not already contain are added after it (compared after trimming, split on
 * the separator's non-space part, as sd-scripts' --append_tags does).
 */
export function composeCaption(o: ComposeOptions): string {
  const items = [...(o.sentence?.trim() ? [o.sentence.trim()] : []), ...o.tags];
  const existing = o.existing?.trim() ?? "";
  if (o.mode === "overwrite" || existing === "") return unique(items).join(o.separator);
  const mark = o.separator.trim() || o.separator;
  const present = new Set(existing.split(mark).map((item) => item.trim()));
  if (o.sentence?.trim() && existing.includes(o.sentence.trim())) present.add(o.sentence.trim());
  const added = unique(items).filter((item) => !present.has(item));
  return [existing, ...added].join(o.separator);
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** `dir/a.png` -> `dir/a.txt` (or another extension such as `.caption`). */
export function captionPathFor(imagePath: string, extension: string): string {
  const ext = extension.startsWith(".") ? extension : `.${extension}`;
  return join(dirname(imagePath), basename(imagePath, extname(imagePath)) + ext);
}

/** Reads a caption file as UTF-8 (a BOM is dropped); undefined when there is none. */
export async function readCaption(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Writes a caption atomically: a temp file beside it, then rename (a crash never leaves half a file). */
export async function writeCaption(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, text + "\n", "utf8");
  await rename(temp, path);
}
