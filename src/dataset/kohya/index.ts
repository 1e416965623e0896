import { resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import { assembleDataset, draftSubset, IMAGE_EXTENSION_LIST, type SubsetDraft } from "./assemble.ts";
import { normalizeCaptionExtension } from "./caption-files.ts";
import { findSubsetFolders, type DataDirKey } from "./folders.ts";

export { parseSubsetFolderName } from "./folders.ts";
export { readKohyaSubsets, type ExplicitSubset } from "./subsets.ts";
export { baseCaption, type KohyaDataset, type KohyaImage, type KohyaSubset } from "./types.ts";
import type { KohyaDataset } from "./types.ts";

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
  return assembleDataset([...train.drafts, ...(reg?.drafts ?? [])], {
    extension,
    warnings: [...train.warnings, ...(reg?.warnings ?? [])],
    noTrainImages: () => noImagesError(train.drafts, options.trainDataDir),
  });
}

function noImagesError(trainDrafts: SubsetDraft[], trainDataDir: string): DanluError {
  const folders = trainDrafts.map((d) => `'${d.folder.dir}'`).join(", ");
  return new DanluError(
    `no images found in the subfolders of train_data_dir '${trainDataDir}' (${folders})`,
    {
      hint: `put the training images (${IMAGE_EXTENSION_LIST}) in those folders`,
    },
  );
}
