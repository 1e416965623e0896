import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import {
  captionCandidates,
  listCaptionFiles,
  normalizeCaptionExtension,
  orphanCaptionError,
  readCaptionFor,
} from "./caption-files.ts";
import { findSubsetFolders, type DataDirKey, type SubsetFolder } from "./folders.ts";
import { IMAGE_EXTENSIONS, listImages, readImageSizes } from "./images.ts";

export { parseSubsetFolderName } from "./folders.ts";

export interface KohyaImage {
  /** Absolute path. */
  path: string;
  /** Size after EXIF orientation, in pixels. */
  width: number;
  height: number;
  /** From the caption file; null when there is none (the subset's class tokens are used instead). */
  caption: string | null;
}

export interface KohyaSubset {
  dir: string;
  /** Class tokens, from the folder name after "{repeats}_". */
  name: string;
  repeats: number;
  isReg: boolean;
  images: KohyaImage[];
}

export interface KohyaDataset {
  subsets: KohyaSubset[];
  captionExtension: string;
  /** Things a person should know that do not stop training (ignored folders, missing captions, ...). */
  warnings: string[];
}

/** The caption an image trains with before per-step processing: its file's, else the class tokens. */
export function baseCaption(image: KohyaImage, subset: KohyaSubset): string {
  return image.caption ?? subset.name;
}

interface SubsetDraft {
  folder: SubsetFolder;
  isReg: boolean;
  images: { path: string; caption: string | null }[];
  orphanCaptions: string[];
  /** Images without a caption file of the configured extension that have one of another common extension. */
  otherExtensionCaptions: number;
  warnings: string[];
}

const COMMON_CAPTION_EXTENSIONS = [".txt", ".caption"];

async function draftSubset(folder: SubsetFolder, isReg: boolean, extension: string): Promise<SubsetDraft> {
  const { images: imagePaths, skipped } = await listImages(folder.dir);
  const existing = new Set((await readdir(folder.dir)).map((name) => join(folder.dir, name)));
  const warnings: string[] = [];
  if (skipped.length > 0) {
    warnings.push(
      `'${folder.dir}': ${skipped.length} file(s) in formats sd-scripts does not read are ignored`,
    );
  }
  const used = new Set<string>();
  const images: SubsetDraft["images"] = [];
  let otherExtensionCaptions = 0;
  for (const path of imagePaths) {
    const read = await readCaptionFor(path, extension, existing);
    warnings.push(...read.warnings);
    if (read.file) used.add(read.file);
    const others = COMMON_CAPTION_EXTENSIONS.filter((ext) => ext !== extension);
    if (read.file === null && others.some((ext) => existing.has(captionCandidates(path, ext)[0] as string))) {
      otherExtensionCaptions++;
    }
    images.push({ path, caption: read.caption });
  }
  const orphanCaptions = (await listCaptionFiles(folder.dir, extension)).filter((file) => !used.has(file));
  return { folder, isReg, images, orphanCaptions, otherExtensionCaptions, warnings };
}

async function draftSubsets(root: string, key: DataDirKey, extension: string) {
  const { folders, warnings } = await findSubsetFolders(resolve(root), key);
  const drafts: SubsetDraft[] = [];
  for (const folder of folders) drafts.push(await draftSubset(folder, key === "reg_data_dir", extension));
  return { drafts, warnings };
}

/**
 * Reads a kohya train_data_dir (and reg_data_dir): `{repeats}_{class tokens}` subfolders of images with
 * caption files beside them. Throws a DanluError for layouts sd-scripts would misread or reject.
 */
export async function readKohyaDataset(options: {
  trainDataDir: string;
  regDataDir?: string | null;
  captionExtension: string;
}): Promise<KohyaDataset> {
  const extension = normalizeCaptionExtension(options.captionExtension);
  const train = await draftSubsets(options.trainDataDir, "train_data_dir", extension);
  const reg = options.regDataDir ? await draftSubsets(options.regDataDir, "reg_data_dir", extension) : null;
  const drafts = [...train.drafts, ...(reg?.drafts ?? [])];
  const warnings = [...train.warnings, ...(reg?.warnings ?? []), ...drafts.flatMap((d) => d.warnings)];

  checkImagesFound(train.drafts, options.trainDataDir);
  const orphans = drafts.flatMap((d) => d.orphanCaptions);
  if (orphans.length > 0) throw orphanCaptionError(orphans);

  const subsets = await measureImages(drafts);
  warnings.push(...emptySubsetWarnings(drafts), ...captionWarnings(drafts, extension));
  return { subsets: subsets.filter((s) => s.images.length > 0), captionExtension: extension, warnings };
}

function checkImagesFound(trainDrafts: SubsetDraft[], trainDataDir: string): void {
  if (trainDrafts.some((d) => d.images.length > 0)) return;
  const folders = trainDrafts.map((d) => `'${d.folder.dir}'`).join(", ");
  throw new DanluError(`no images found in the subfolders of train_data_dir '${trainDataDir}' (${folders})`, {
    hint: `put the training images (${IMAGE_EXTENSIONS.join(", ")}) in those folders`,
  });
}

/** Reads every image's size; all unreadable images are named in one error. */
async function measureImages(drafts: SubsetDraft[]): Promise<KohyaSubset[]> {
  const paths = drafts.flatMap((d) => d.images.map((image) => image.path));
  const sizes = new Map((await readImageSizes(paths)).map((result) => [result.path, result]));
  const failures = [...sizes.values()].flatMap((r) => ("error" in r ? [`  ${r.path}: ${r.error}`] : []));
  if (failures.length > 0) {
    throw new DanluError(`${failures.length} image(s) cannot be read:\n${failures.join("\n")}`, {
      hint: "re-export or re-download them, or remove them from the folder (BMP: convert to PNG)",
    });
  }
  return drafts.map((draft) => ({
    dir: draft.folder.dir,
    name: draft.folder.name,
    repeats: draft.folder.repeats,
    isReg: draft.isReg,
    images: draft.images.map((image) => {
      const size = sizes.get(image.path);
      if (!size || "error" in size) throw new Error(`internal: no size for ${image.path}`);
      return { path: image.path, width: size.width, height: size.height, caption: image.caption };
    }),
  }));
}

function emptySubsetWarnings(drafts: SubsetDraft[]): string[] {
  return drafts
    .filter((d) => d.images.length === 0)
    .map((d) => `ignoring '${d.folder.dir}': it holds no images (${IMAGE_EXTENSIONS.join(", ")})`);
}

function captionWarnings(drafts: SubsetDraft[], extension: string): string[] {
  const warnings: string[] = [];
  const other = drafts.reduce((sum, d) => sum + d.otherExtensionCaptions, 0);
  if (other > 0) {
    const others = COMMON_CAPTION_EXTENSIONS.filter((ext) => ext !== extension).join(" or ");
    warnings.push(
      `${other} image(s) have no '${extension}' caption but a '${others}' file beside them: ` +
        `caption_extension is '${extension}'; set it to the extension your captions use`,
    );
  }
  for (const draft of drafts) {
    const missing = draft.images.filter((image) => image.caption === null).length;
    if (missing === 0) continue;
    const as = draft.folder.name ? `the class tokens '${draft.folder.name}'` : "an empty caption";
    warnings.push(
      `'${draft.folder.dir}': ${missing} image(s) have no '${extension}' file and train with ${as}`,
    );
  }
  return warnings;
}
