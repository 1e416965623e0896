import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DanluError } from "../../errors.ts";
import { isImageFile } from "../images.ts";
import { isBmp } from "./images.ts";

/** A `{repeats}_{class tokens}` subfolder of train_data_dir or reg_data_dir. */
export interface SubsetFolder {
  dir: string;
  /** The class tokens: the folder name after the first "_" ("" for a folder named only "10"). */
  name: string;
  repeats: number;
}

/**
 * sd-scripts' reading of a folder name: the part before the first "_" must parse as a Python int.
 * "10_alice woman" -> 10 repeats, class tokens "alice woman"; "alice" -> null.
 */
export function parseSubsetFolderName(folderName: string): { repeats: number; name: string } | null {
  const [first = "", ...rest] = folderName.split("_");
  if (!/^\s*[+-]?\d+\s*$/.test(first)) return null;
  return { repeats: Number.parseInt(first, 10), name: rest.join("_") };
}

/** Key name used in messages: the setting the user wrote. */
export type DataDirKey = "train_data_dir" | "reg_data_dir";

interface FolderEntries {
  subfolders: string[];
  imageFiles: string[];
}

async function readFolderEntries(root: string, key: DataDirKey): Promise<FolderEntries> {
  const info = await stat(root).catch(() => null);
  if (!info)
    throw new DanluError(`${key} '${root}' does not exist`, { hint: `check the path given as ${key}` });
  if (!info.isDirectory()) {
    throw new DanluError(`${key} '${root}' is not a folder`, {
      hint: `${key} is the folder that holds the {repeats}_{name} subfolders`,
    });
  }
  const subfolders: string[] = [];
  const imageFiles: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue; // .ipynb_checkpoints, .DS_Store, ...
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await isFolder(join(root, entry.name))));
    if (isDir) subfolders.push(entry.name);
    else if (isImageFile(entry.name) || isBmp(entry.name)) imageFiles.push(entry.name);
  }
  return { subfolders: subfolders.sort(), imageFiles };
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/**
 * The subset folders of a kohya data folder, sorted by name, plus warnings for what is ignored.
 * Throws for the common layout mistakes: images directly in the folder, no numbered subfolders, 0 repeats.
 */
export async function findSubsetFolders(
  root: string,
  key: DataDirKey,
): Promise<{ folders: SubsetFolder[]; warnings: string[] }> {
  const { subfolders, imageFiles } = await readFolderEntries(root, key);
  const folders: SubsetFolder[] = [];
  const unnumbered: string[] = [];
  const zeroRepeats: string[] = [];
  for (const folderName of subfolders) {
    const parsed = parseSubsetFolderName(folderName);
    if (!parsed) unnumbered.push(folderName);
    else if (parsed.repeats < 1) zeroRepeats.push(folderName);
    else folders.push({ dir: join(root, folderName), ...parsed });
  }
  if (zeroRepeats.length > 0) throw zeroRepeatsError(root, zeroRepeats);
  if (folders.length === 0) throw noSubsetsError(root, key, unnumbered, imageFiles.length);

  const warnings = unnumbered.map(
    (folderName) =>
      `ignoring folder '${join(root, folderName)}': its name does not start with a repeat count ` +
      `(rename it to '10_${folderName}' to train on it 10 times per epoch)`,
  );
  if (imageFiles.length > 0) {
    warnings.push(
      `ignoring ${imageFiles.length} image(s) directly inside ${key} '${root}': ` +
        `only images inside the {repeats}_{name} subfolders are used`,
    );
  }
  return { folders, warnings };
}

function zeroRepeatsError(root: string, folderNames: string[]): DanluError {
  const renames = folderNames.map((name) => {
    const rest = name.split("_").slice(1).join("_");
    return `'${name}' to '1_${rest}'`;
  });
  const list = folderNames.map((n) => `'${n}'`).join(", ");
  return new DanluError(`folder(s) ${list} in '${root}' have a repeat count below 1`, {
    hint: `a folder needs at least 1 repeat: rename ${renames.join(", ")}, or move it out of '${root}'`,
  });
}

function noSubsetsError(
  root: string,
  key: DataDirKey,
  unnumbered: string[],
  looseImages: number,
): DanluError {
  if (looseImages > 0) {
    const parent = dirname(root);
    const rootName = basename(root);
    const hint = parseSubsetFolderName(rootName)
      ? `'${rootName}' is itself a {repeats}_{name} folder: set ${key} to its parent folder '${parent}'`
      : `move the images into a subfolder named {repeats}_{name}, e.g. '${join(root, `10_${rootName}`)}', ` +
        `or set ${key} to the folder that holds such subfolders`;
    return new DanluError(
      `${key} '${root}' holds ${looseImages} image(s) directly and no {repeats}_{name} subfolders: ` +
        `it looks like the image folder itself`,
      { hint },
    );
  }
  if (unnumbered.length > 0) {
    const renames = unnumbered.map((name) => `'${name}' to '10_${name}'`).join(", ");
    return new DanluError(`no subfolder of ${key} '${root}' starts with a repeat count`, {
      hint: `kohya reads {repeats}_{name} subfolders: rename ${renames} (10 = times each image is used per epoch)`,
    });
  }
  return new DanluError(`${key} '${root}' has no {repeats}_{name} subfolders and no images`, {
    hint: `put the images in a subfolder such as '${join(root, "10_name")}'`,
  });
}
