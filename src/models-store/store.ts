import { existsSync } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import { downloadFile } from "./download.ts";
import { newRecord, readRecord, writeRecord, type ModelRecord } from "./record.ts";
import {
  fileUrl,
  findKnownModel,
  KNOWN_MODELS,
  type KnownFile,
  type KnownModel,
  type ModelKind,
  type ModelSource,
} from "./registry.ts";
import { sourceChoice, sourcesFor, sourceUrl, waysRound, type SourceChoice } from "./sources.ts";

export { MODEL_RECORD, type ModelRecord } from "./record.ts";

/**
 * The local model folder: one subfolder per model (`{dir}/{name}/`), each pulled model with a
 * danlu-model.json that records where its files came from and their sha256. Folders a user put
 * there by hand are listed and usable too. The folder: --dir, else $DANLU_MODELS_DIR, else
 * ~/.cache/danlu/models.
 */
export function modelsDir(explicit?: string): string {
  return resolve(explicit ?? process.env.DANLU_MODELS_DIR ?? join(homedir(), ".cache", "danlu", "models"));
}

export interface PullOptions {
  dir?: string;
  /** The hub or a mirror of it (default $DANLU_HUB_URL, $HF_ENDPOINT, https://huggingface.co). */
  hub?: string;
  /** Default $DANLU_MODEL_SOURCE, else huggingface. */
  source?: SourceChoice;
  /** The known models (tests pass their own). */
  catalogue?: readonly KnownModel[];
  /** Download again even when the file is already there. */
  force?: boolean;
  onFile?: (path: string, index: number, count: number) => void;
  onProgress?: (received: number, total: number | undefined) => void;
  retryDelayMs?: number;
}

/** Downloads a known model into `{dir}/{name}`; files already pulled (same size) are kept. */
export async function pullModel(name: string, o: PullOptions = {}): Promise<ModelRecord> {
  const model = findKnownModel(name, o.catalogue);
  if (!model) throw unknownModel(name, o.catalogue);
  let sources = sourcesFor(model, o.source ?? sourceChoice());
  const folder = join(modelsDir(o.dir), model.name);
  const previous = await readRecord(folder);
  const files: ModelRecord["files"] = [];
  for (const [index, file] of model.files.entries()) {
    o.onFile?.(file.path, index, model.files.length);
    const dest = join(folder, ...file.path.split("/"));
    const kept = previous?.files.find((f) => f.path === file.path);
    if (!o.force && kept && existsSync(dest) && (await stat(dest)).size === kept.size) {
      files.push(kept);
      continue;
    }
    await mkdir(dirname(dest), { recursive: true });
    const pulled = await pullFile(model, file, dest, sources, o);
    // Once the hub has failed, the rest of the files come from the fallback too.
    sources = sources.slice(sources.indexOf(pulled.source));
    files.push(pulled.recorded);
  }
  const record = newRecord(model, files);
  await writeRecord(folder, record);
  return record;
}

/** One file from the first source that can be reached; an unreachable last source names the ways round. */
async function pullFile(
  model: KnownModel,
  file: KnownFile,
  dest: string,
  sources: ModelSource[],
  o: PullOptions,
) {
  for (const [index, source] of sources.entries()) {
    const url = fileUrl(source, sourceUrl(source, o.hub), model, file);
    try {
      const got = await downloadFile({
        url,
        dest,
        size: file.size,
        sha256: file.sha256,
        ...downloadHooks(o),
      });
      const checked = file.sha256 !== undefined;
      return {
        source,
        recorded: { path: file.path, size: got.size, sha256: got.sha256, checked, from: url },
      };
    } catch (error) {
      if (!(error instanceof DanluError) || error.code !== "UNREACHABLE") throw error;
      if (index < sources.length - 1) continue;
      const dirFlag = o.dir ? ` --dir ${o.dir}` : "";
      const hint = [...(error.hint ? [error.hint] : []), ...waysRound(model, dirFlag)].join("\n");
      throw new DanluError(error.message, { hint, code: "UNREACHABLE", cause: error });
    }
  }
  throw new Error("no source to pull from"); // sourcesFor never returns an empty list
}

function downloadHooks(o: PullOptions) {
  return {
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
  };
}

export function unknownModel(name: string, catalogue = KNOWN_MODELS): DanluError {
  return new DanluError(`"${name}" is not a model danlu knows`, {
    hint: `known: ${catalogue.map((m) => m.name).join(", ")} (or pass a folder path)`,
    code: "UNKNOWN_MODEL",
  });
}

export interface InstalledModel {
  name: string;
  folder: string;
  kind: ModelKind | "unknown";
  /** pulled: by danlu with a record; local: a folder put there by hand; partial: an unfinished pull. */
  state: "pulled" | "local" | "partial";
  bytes: number;
  record?: ModelRecord;
}

/** What is in the model folder, sorted by name. */
export async function listInstalled(dir?: string): Promise<InstalledModel[]> {
  const root = modelsDir(dir);
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { withFileTypes: true });
  const found: InstalledModel[] = [];
  for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith("."))) {
    found.push(await inspectFolder(join(root, entry.name), entry.name));
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

async function inspectFolder(folder: string, name: string): Promise<InstalledModel> {
  const files = await filesUnder(folder);
  const record = await readRecord(folder);
  const known = findKnownModel(name);
  const paths = new Set(files.map((f) => f.path));
  // A known model is usable once all its files are there, however they came (pull, add, by hand).
  const incomplete = known !== undefined && !known.files.every((f) => paths.has(f.path));
  const partial = files.some((f) => f.path.endsWith(".part")) || incomplete;
  return {
    name,
    folder,
    kind: record?.kind ?? known?.kind ?? guessKind([...paths]),
    state: partial ? "partial" : record ? "pulled" : "local",
    bytes: files.reduce((sum, f) => sum + f.size, 0),
    ...(record ? { record } : {}),
  };
}

async function filesUnder(folder: string, prefix = ""): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path, `${prefix}${entry.name}/`)));
    else if (entry.isFile()) out.push({ path: prefix + entry.name, size: (await stat(path)).size });
  }
  return out;
}

function guessKind(paths: string[]): ModelKind | "unknown" {
  if (paths.includes("model.onnx") && paths.includes("selected_tags.csv")) return "tagger";
  if (paths.includes("config.json") && paths.some((p) => p.startsWith("onnx/"))) return "captioner";
  return "unknown";
}

/**
 * `--model NAME|PATH`: an existing folder (or a model.onnx inside one) is used as it is; otherwise
 * NAME is looked up in the model folder. The name is what the manifest keys probabilities by.
 */
export async function resolveModel(nameOrPath: string, kind: ModelKind, dir?: string) {
  const asPath = resolve(nameOrPath);
  if (existsSync(asPath)) {
    const folder = (await stat(asPath)).isDirectory() ? asPath : dirname(asPath);
    return { name: basename(folder), folder };
  }
  const looksLikePath = isAbsolute(nameOrPath) || nameOrPath.includes("/") || nameOrPath.startsWith(".");
  const known = findKnownModel(nameOrPath);
  const folder = join(modelsDir(dir), nameOrPath);
  if (!looksLikePath && existsSync(folder) && (await inspectFolder(folder, nameOrPath)).state !== "partial") {
    return { name: nameOrPath, folder };
  }
  if (known) {
    if (known.kind !== kind) {
      throw new DanluError(`${nameOrPath} is a ${known.kind}, not a ${kind}`, { code: "BAD_OPTION" });
    }
    const dirFlag = dir ? ` --dir ${dir}` : "";
    throw new DanluError(`${nameOrPath} is not installed in ${modelsDir(dir)}`, {
      hint: [`run: danlu models pull ${nameOrPath}${dirFlag}`, ...waysRound(known, dirFlag)].join("\n"),
      code: "MODEL_MISSING",
    });
  }
  throw new DanluError(`no model folder ${looksLikePath ? asPath : folder}`, {
    hint: `pass a folder, or one of: ${KNOWN_MODELS.filter((m) => m.kind === kind)
      .map((m) => m.name)
      .join(", ")}`,
    code: "MODEL_MISSING",
  });
}
