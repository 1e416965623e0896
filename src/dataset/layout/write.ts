import { constants } from "node:fs";
import { copyFile, link, mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { DanluError } from "../../errors.ts";
import { writeFileAtomic } from "../../tagging/backup.ts";

/**
 * Writes the folders of a layout: each image hard-linked (copied where the filesystem cannot link), its
 * caption file copied beside it (a copy, so editing one side's captions never changes the other's).
 * Nothing is written outside the output folder; a folder that already holds anything is refused unless
 * it is an earlier layout and `replace` is set, in which case only the folders that layout wrote go.
 */

export const LAYOUT_RECORD = ".danlu-layout.json";

const layoutRecord = z.strictObject({
  version: z.literal(1),
  created_at: z.string(),
  /** Top-level entries of the output folder this layout wrote ("10_ohwx", "1_woman"). */
  folders: z.array(z.string()),
});

export interface LayoutFolder {
  /** Relative to the output folder: "10_ohwx" (train_data_dir) or "1_woman" (reg_data_dir). */
  folder: string;
  /** Absolute paths of the source images. */
  images: string[];
}

export interface WriteSummary {
  linked: number;
  copied: number;
  captions: number;
  /** Images without a caption file: they train on the folder's class tokens. */
  uncaptioned: string[];
}

function insideOut(out: string, path: string): string {
  const full = resolve(out, path);
  const rel = relative(out, full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new DanluError(`refusing to write ${full}: it is outside the output folder ${out}`);
  }
  return full;
}

async function readRecord(out: string) {
  const text = await readFile(join(out, LAYOUT_RECORD), "utf8").catch(() => null);
  if (text === null) return null;
  try {
    const parsed = layoutRecord.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null; // not JSON: not a record this code wrote
  }
}

/**
 * Checks that `out` may be written, changing nothing: missing, empty, or an earlier layout (then only
 * with `replace`). Returns the folders of that earlier layout, which writing removes first.
 */
export async function checkLayoutTarget(out: string, replace: boolean, flag: string): Promise<string[]> {
  const info = await stat(out).catch(() => null);
  if (info && !info.isDirectory()) throw new DanluError(`${flag} ${out} is a file, not a folder`);
  const entries = info ? await readdir(out) : [];
  if (entries.length === 0) return [];
  const record = await readRecord(out);
  if (!record) {
    throw new DanluError(`${flag} ${out} is not empty and was not written by danlu data layout`, {
      hint: "give a new or empty folder",
    });
  }
  if (!replace) {
    throw new DanluError(`${flag} ${out} already holds a layout (${record.folders.join(", ")})`, {
      hint: `add --replace to remove that layout's folders and write the new one, or give another ${flag}`,
    });
  }
  return record.folders;
}

/** Makes `out` ready: created if missing, else empty, else an earlier layout cleared with `replace`. */
async function prepareOut(out: string, replace: boolean, flag: string): Promise<void> {
  const earlier = await checkLayoutTarget(out, replace, flag);
  for (const folder of earlier) await rm(insideOut(out, folder), { recursive: true, force: true });
  await mkdir(out, { recursive: true });
}

/** Hard link, or a copy where links are impossible (another filesystem, FAT, some network shares). */
async function linkOrCopy(source: string, target: string): Promise<"linked" | "copied"> {
  try {
    await link(source, target);
    return "linked";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP" && code !== "EMLINK") throw error;
    await copyFile(source, target, constants.COPYFILE_EXCL);
    return "copied";
  }
}

export function captionPathOf(image: string, extension: string): string {
  return join(dirname(image), basename(image, extname(image)) + extension);
}

export async function writeLayout(
  out: string,
  folders: readonly LayoutFolder[],
  options: { captionExtension: string; replace: boolean; flag: string },
): Promise<WriteSummary> {
  const root = resolve(out);
  await prepareOut(root, options.replace, options.flag);
  const topLevel = [...new Set(folders.map((f) => f.folder.split("/")[0] as string))];
  const record = { version: 1 as const, created_at: new Date().toISOString(), folders: topLevel };
  // Recorded before the files, so that a layout cut short can still be replaced.
  await writeFileAtomic(join(root, LAYOUT_RECORD), JSON.stringify(record, null, 2) + "\n");

  const summary: WriteSummary = { linked: 0, copied: 0, captions: 0, uncaptioned: [] };
  for (const { folder, images } of folders) {
    const target = insideOut(root, folder);
    await mkdir(target, { recursive: true });
    for (const image of images) {
      summary[await linkOrCopy(image, insideOut(target, basename(image)))]++;
      const caption = captionPathOf(image, options.captionExtension);
      try {
        await copyFile(caption, insideOut(target, basename(caption)), constants.COPYFILE_EXCL);
        summary.captions++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        summary.uncaptioned.push(image);
      }
    }
  }
  return summary;
}
