import { existsSync } from "node:fs";
import { copyFile, mkdir, rename, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import { sha256File } from "./download.ts";
import { newRecord, readRecord, writeRecord, type ModelRecord, type RecordedFile } from "./record.ts";
import { fileUrl, findKnownModel, type KnownFile, type KnownModel } from "./registry.ts";
import { DEFAULT_HUB } from "./sources.ts";
import { modelsDir, unknownModel } from "./store.ts";

/**
 * `danlu models add NAME DIR|FILE`: files of a known model downloaded by hand (a browser, a mirror,
 * a USB stick) are checked against the catalogue's size and sha256 and copied into the model folder,
 * as a pull would have placed them. Nothing is copied unless every file given passes.
 */
export interface AddOptions {
  dir?: string;
  catalogue?: readonly KnownModel[];
}

export interface AddResult {
  record: ModelRecord;
  added: RecordedFile[];
  /** The model's files still not in its folder, with the hub address of each. */
  missing: { path: string; url: string }[];
}

export async function addModelFiles(name: string, from: string, o: AddOptions = {}): Promise<AddResult> {
  const model = findKnownModel(name, o.catalogue);
  if (!model) throw unknownModel(name, o.catalogue);
  const found = await findGivenFiles(model, resolve(from));
  const added: RecordedFile[] = [];
  for (const { file, source } of found) added.push(await checkGivenFile(model, file, source));
  const folder = join(modelsDir(o.dir), model.name);
  for (const { file, source } of found) await copyInto(source, join(folder, ...file.path.split("/")));
  const previous = (await readRecord(folder))?.files ?? [];
  const files = model.files.flatMap((file) => {
    const entry = added.find((f) => f.path === file.path) ?? previous.find((f) => f.path === file.path);
    return entry ? [entry] : [];
  });
  const record = newRecord(model, files);
  await writeRecord(folder, record);
  const missing = model.files
    .filter((file) => !existsSync(join(folder, ...file.path.split("/"))))
    .map((file) => ({ path: file.path, url: fileUrl("huggingface", DEFAULT_HUB, model, file) }));
  return { record, added, missing };
}

/** A folder: each known file at its path or by its bare name. A file: the known file of that name. */
async function findGivenFiles(model: KnownModel, from: string) {
  if (!existsSync(from)) throw new DanluError(`${from} does not exist`, { code: "NOT_FOUND" });
  const names = model.files.map((f) => f.path).join(", ");
  if (!(await stat(from)).isDirectory()) {
    const file = model.files.find((f) => basename(f.path) === basename(from));
    if (!file) {
      throw new DanluError(`${from} is not one of ${model.name}'s files (${names})`, {
        hint: "keep the file's name as it was on the hub",
        code: "BAD_MODEL_FILE",
      });
    }
    return [{ file, source: from }];
  }
  const found = model.files.flatMap((file) => {
    const source = [join(from, ...file.path.split("/")), join(from, basename(file.path))].find(existsSync);
    return source ? [{ file, source }] : [];
  });
  if (found.length === 0) {
    throw new DanluError(`${from} holds none of ${model.name}'s files (${names})`, {
      code: "BAD_MODEL_FILE",
    });
  }
  return found;
}

/** Size first (cheap), then sha256, each against the catalogue where it knows them. */
async function checkGivenFile(model: KnownModel, file: KnownFile, source: string): Promise<RecordedFile> {
  const size = (await stat(source)).size;
  const redownload = `download it again from ${fileUrl("huggingface", DEFAULT_HUB, model, file)}`;
  if (file.size !== undefined && size !== file.size) {
    throw new DanluError(
      `${source} is not ${model.name}'s ${file.path}: ${size} bytes, expected ${file.size} bytes`,
      { hint: `${redownload} (an unfinished or different download)`, code: "CHECKSUM" },
    );
  }
  const sha256 = await sha256File(source);
  if (file.sha256 !== undefined && sha256 !== file.sha256.toLowerCase()) {
    throw new DanluError(
      `${source} is not ${model.name}'s ${file.path}: sha256 ${sha256}, expected ${file.sha256}`,
      { hint: `${redownload} (a damaged file, or another revision of the model)`, code: "CHECKSUM" },
    );
  }
  return { path: file.path, size, sha256, checked: file.sha256 !== undefined, from: source };
}

/** Through a temporary name, so a half-copied file never sits where a model is loaded from. */
async function copyInto(source: string, dest: string): Promise<void> {
  if (resolve(source) === resolve(dest)) return;
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(source, `${dest}.copying`);
  await rename(`${dest}.copying`, dest);
}
