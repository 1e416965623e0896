import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DanluError } from "../../errors.ts";
import { IMAGE_EXTENSIONS } from "../images.ts";
import { captionCandidates, listCaptionFiles, orphanCaptionError, readCaptionFor } from "./caption-files.ts";
import type { SubsetFolder } from "./folders.ts";
import { isBmp, listImages, readImageSizes } from "./images.ts";
import type { KohyaDataset, KohyaSubset } from "./types.ts";

/**
 * The steps both kohya readers share (train_data_dir folders, or a dataset config's subsets): list each
 * folder's images and captions, then check and measure them all together so every problem is named at once.
 */

/** The image extensions danlu trains on, for messages. */
export const IMAGE_EXTENSION_LIST = [...IMAGE_EXTENSIONS].join(", ");

export interface SubsetDraft {
  folder: SubsetFolder;
  isReg: boolean;
  images: { path: string; caption: string | null }[];
  orphanCaptions: string[];
  /** Images without a caption file of the configured extension that have one of another common extension. */
  otherExtensionCaptions: number;
  /** BMP files: sd-scripts trains on them, danlu cannot decode them. */
  bmpFiles: string[];
  warnings: string[];
}

const COMMON_CAPTION_EXTENSIONS = [".txt", ".caption"];

/** Lists one folder's images and reads their caption files (`extension` with its dot). */
export async function draftSubset(
  folder: SubsetFolder,
  isReg: boolean,
  extension: string,
): Promise<SubsetDraft> {
  const { images: imagePaths, skipped } = await listImages(folder.dir);
  const existing = new Set((await readdir(folder.dir)).map((name) => join(folder.dir, name)));
  const warnings: string[] = [];
  const unreadable = skipped.filter((name) => !isBmp(name));
  if (unreadable.length > 0) {
    warnings.push(
      `'${folder.dir}': ignoring ${unreadable.length} image file(s) danlu cannot train on ` +
        `(${unreadable.join(", ")}); \`danlu data import\` converts HEIC and .jfif to PNG`,
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
  const bmpFiles = skipped.filter(isBmp).map((name) => join(folder.dir, name));
  return { folder, isReg, images, orphanCaptions, otherExtensionCaptions, bmpFiles, warnings };
}

/**
 * The dataset from drafted subsets: BMP files, caption files without an image and images that do not
 * decode are errors (each kind naming every file); subsets without images are dropped with a warning.
 * `noTrainImages` builds the error for when no training subset holds an image (it names the setting).
 */
export async function assembleDataset(
  drafts: SubsetDraft[],
  options: { extension: string; warnings: string[]; noTrainImages: () => DanluError },
): Promise<KohyaDataset> {
  const warnings = [...options.warnings, ...drafts.flatMap((d) => d.warnings)];
  const bmpFiles = drafts.flatMap((d) => d.bmpFiles);
  if (bmpFiles.length > 0) throw bmpError(bmpFiles);
  if (!drafts.some((d) => !d.isReg && d.images.length > 0)) throw options.noTrainImages();
  const orphans = drafts.flatMap((d) => d.orphanCaptions);
  if (orphans.length > 0) throw orphanCaptionError(orphans);

  const subsets = await measureImages(drafts);
  warnings.push(...emptySubsetWarnings(drafts), ...captionWarnings(drafts, options.extension));
  return {
    subsets: subsets.filter((s) => s.images.length > 0),
    captionExtension: options.extension,
    warnings,
  };
}

function bmpError(files: string[]): DanluError {
  const list = files.map((file) => `  ${file}`).join("\n");
  return new DanluError(
    `${files.length} BMP image(s) cannot be read (sd-scripts reads BMP, danlu does not):\n${list}`,
    {
      hint: `convert them to PNG (any image editor, or ImageMagick: mogrify -format png *.bmp) and remove the .bmp files; danlu reads ${IMAGE_EXTENSION_LIST}`,
    },
  );
}

/** Reads every image's size; all unreadable images are named in one error. */
async function measureImages(drafts: SubsetDraft[]): Promise<KohyaSubset[]> {
  const paths = drafts.flatMap((d) => d.images.map((image) => image.path));
  const sizes = new Map((await readImageSizes(paths)).map((result) => [result.path, result]));
  const failures = [...sizes.values()].flatMap((r) => ("error" in r ? [`  ${r.path}: ${r.error}`] : []));
  if (failures.length > 0) {
    throw new DanluError(`${failures.length} image(s) cannot be read:\n${failures.join("\n")}`, {
      hint: "re-export or re-download them, or remove them from the folder",
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
    .map((d) => `ignoring '${d.folder.dir}': it holds no images (${IMAGE_EXTENSION_LIST})`);
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
