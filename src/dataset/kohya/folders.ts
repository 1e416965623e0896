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
  const nested = new Map<string, string[]>();
  for (const name of unnumbered) nested.set(name, await numberedSubfolders(join(root, name)));
  if (folders.length === 0) {
    const dataFolders = unnumbered.filter((name) => (nested.get(name) ?? []).length > 0);
    if (dataFolders.length > 0 && imageFiles.length === 0) throw nestedDataDirError(root, key, dataFolders);
    throw noSubsetsError(root, key, unnumbered, imageFiles.length);
  }

  const warnings = unnumbered.map((name) => unnumberedWarning(join(root, name), key, nested.get(name) ?? []));
  if (imageFiles.length > 0) {
    warnings.push(
      `ignoring ${imageFiles.length} image(s) directly inside ${key} '${root}': ` +
        `only images inside the {repeats}_{name} subfolders are used`,
    );
  }
  return { folders, warnings };
}

async function numberedSubfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && parseSubsetFolderName(e.name)).map((e) => e.name);
}

/**
 * Why a folder without a repeat count is ignored. One that holds {repeats}_{name} folders itself is a
 * kohya data folder put inside another (often regularization images as `reg/1_woman`): renaming it would
 * train those images as a concept, so the warning says where such a folder belongs instead.
 */
function unnumberedWarning(dir: string, key: DataDirKey, nested: string[]): string {
  if (nested.length > 0) {
    const regHint =
      key === "train_data_dir"
        ? `; if they are regularization images, move '${dir}' out of train_data_dir and pass it as reg_data_dir (--reg-data-dir)`
        : "";
    return `ignoring folder '${dir}': it holds {repeats}_{name} folders (${nested.join(", ")}) of its own${regHint}`;
  }
  return (
    `ignoring folder '${dir}': its name does not start with a repeat count ` +
    `(rename it to '10_${basename(dir)}' to train on it 10 times per epoch)`
  );
}

/** The folder above the data folders, such as a kohya_ss project (`img/10_alice`, `reg/1_woman`). */
function nestedDataDirError(root: string, key: DataDirKey, dataFolders: string[]): DanluError {
  const list = dataFolders.map((name) => `'${join(root, name)}'`).join(", ");
  const reg = dataFolders.find((name) => /^reg/iu.test(name));
  const train = dataFolders.find((name) => name !== reg) ?? dataFolders[0] ?? "";
  const hint =
    key === "train_data_dir" && reg
      ? `set train_data_dir to '${join(root, train)}' and reg_data_dir to '${join(root, reg)}'`
      : `set ${key} to ${dataFolders.length === 1 ? list : `one of ${list}`}`;
  return new DanluError(
    `${key} '${root}' has no {repeats}_{name} subfolders, but ${list} ${dataFolders.length === 1 ? "has" : "have"}: ` +
      `it is the folder above the data folder`,
    { hint },
  );
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
