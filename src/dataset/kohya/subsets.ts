import { readdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import { assembleDataset, draftSubset, IMAGE_EXTENSION_LIST, type SubsetDraft } from "./assemble.ts";
import { normalizeCaptionExtension } from "./caption-files.ts";
import { parseSubsetFolderName } from "./folders.ts";
import type { KohyaDataset } from "./types.ts";

/**
 * One image folder of an sd-scripts dataset config (`[[datasets.subsets]]`), with sd-scripts' key names
 * (src/config/kohya-dataset.ts reads and checks them).
 */
export interface ExplicitSubset {
  /** The folder of images itself (no {repeats}_{name} subfolders): its name carries no meaning. */
  image_dir: string;
  num_repeats: number;
  /** The caption of images without a caption file; null: they train with an empty caption, as in sd-scripts. */
  class_tokens: string | null;
  is_reg: boolean;
}

/**
 * Reads the image folders a dataset config lists, in the order given: each is one subset with its own
 * repeats, class tokens and is_reg, read with the same image, caption and error rules as a train_data_dir.
 */
export async function readKohyaSubsets(options: {
  subsets: readonly ExplicitSubset[];
  captionExtension: string;
}): Promise<KohyaDataset> {
  if (!options.subsets.some((subset) => !subset.is_reg)) {
    throw new DanluError(`the dataset config has ${options.subsets.length} subset(s), all is_reg = true`, {
      hint: "add a [[datasets.subsets]] of training images (is_reg = false, the default)",
    });
  }
  const extension = normalizeCaptionExtension(options.captionExtension);
  const drafts: SubsetDraft[] = [];
  for (const [index, subset] of options.subsets.entries()) {
    const dir = resolve(subset.image_dir);
    await checkImageDir(dir, index + 1);
    const folder = { dir, name: subset.class_tokens ?? "", repeats: subset.num_repeats };
    drafts.push(await draftSubset(folder, subset.is_reg, extension));
  }
  const trainDirs = drafts.filter((d) => !d.isReg).map((d) => `'${d.folder.dir}'`);
  return assembleDataset(drafts, {
    extension,
    warnings: [],
    noTrainImages: () =>
      new DanluError(`no images found in the image_dir of the training subsets (${trainDirs.join(", ")})`, {
        hint: `put the training images (${IMAGE_EXTENSION_LIST}) directly in those folders`,
      }),
  });
}

/** image_dir must be a folder of images; a kohya train_data_dir given as image_dir is the usual mix-up. */
async function checkImageDir(dir: string, number: number): Promise<void> {
  const where = `image_dir '${dir}' (subset ${number} of the dataset config)`;
  const info = await stat(dir).catch(() => null);
  if (!info)
    throw new DanluError(`${where} does not exist`, { hint: "check image_dir in the dataset config" });
  if (!info.isDirectory())
    throw new DanluError(`${where} is not a folder`, {
      hint: "image_dir is the folder that holds the images",
    });
  const entries = await readdir(dir, { withFileTypes: true });
  const numbered = entries.filter((e) => e.isDirectory() && parseSubsetFolderName(e.name)).map((e) => e.name);
  const hasFiles = entries.some((e) => e.isFile() && !e.name.startsWith("."));
  if (numbered.length > 0 && !hasFiles) {
    throw new DanluError(
      `${where} holds {repeats}_{name} folders (${numbered.join(", ")}) and no images: it looks like a ` +
        `train_data_dir, but image_dir is the image folder itself`,
      {
        hint:
          `list each folder as its own [[datasets.subsets]] (image_dir = '${resolve(dir, numbered[0] ?? "")}', ` +
          `num_repeats = ...), or drop dataset_config and pass --train-data-dir '${dir}'`,
      },
    );
  }
}
