import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { DanluError } from "../errors.ts";
import { downloadFile } from "./download.ts";
import { fileUrl, findKnownModel, KNOWN_MODELS, type ModelKind } from "./registry.ts";

/**
 * The local model folder: one subfolder per model (`{dir}/{name}/`), each pulled model with a
 * danlu-model.json that records where its files came from and their sha256. Folders a user put
 * there by hand are listed and usable too.
 */
export const MODEL_RECORD = "danlu-model.json";
export const DEFAULT_HUB = "https://huggingface.co";

/** --dir, else $DANLU_MODELS_DIR, else ~/.cache/danlu/models. */
export function modelsDir(explicit?: string): string {
  return resolve(explicit ?? process.env.DANLU_MODELS_DIR ?? join(homedir(), ".cache", "danlu", "models"));
}

/** $DANLU_HUB_URL points pulls at a mirror of the hub (same /{repo}/resolve/{revision}/{path} layout). */
export function hubUrl(explicit?: string): string {
  return explicit ?? process.env.DANLU_HUB_URL ?? DEFAULT_HUB;
}

const modelRecord = z.strictObject({
  name: z.string(),
  kind: z.enum(["tagger", "captioner"]),
  repo: z.string(),
  revision: z.string(),
  pulled_at: z.string(),
  files: z.array(
    z.strictObject({ path: z.string(), size: z.number(), sha256: z.string(), checked: z.boolean() }),
  ),
});
export type ModelRecord = z.infer<typeof modelRecord>;

export interface PullOptions {
  dir?: string;
  hub?: string;
  /** Download again even when the file is already there. */
  force?: boolean;
  onFile?: (path: string, index: number, count: number) => void;
  onProgress?: (received: number, total: number | undefined) => void;
  retryDelayMs?: number;
}

/** Downloads a known model into `{dir}/{name}`; files already pulled (same size) are kept. */
export async function pullModel(name: string, o: PullOptions = {}): Promise<ModelRecord> {
  const model = findKnownModel(name);
  if (!model) throw unknownModel(name);
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
    const url = fileUrl(hubUrl(o.hub), model, file);
    const got = await downloadFile({ url, dest, size: file.size, sha256: file.sha256, ...downloadHooks(o) });
    files.push({ path: file.path, size: got.size, sha256: got.sha256, checked: file.sha256 !== undefined });
  }
  const record: ModelRecord = {
    name: model.name,
    kind: model.kind,
    repo: model.repo,
    revision: model.revision,
    pulled_at: new Date().toISOString(),
    files,
  };
  await writeRecord(folder, record);
  return record;
}

function downloadHooks(o: PullOptions) {
  return {
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
  };
}

async function readRecord(folder: string): Promise<ModelRecord | undefined> {
  const path = join(folder, MODEL_RECORD);
  if (!existsSync(path)) return undefined;
  const parsed = modelRecord.safeParse(JSON.parse(await readFile(path, "utf8")));
  return parsed.success ? parsed.data : undefined;
}

async function writeRecord(folder: string, record: ModelRecord): Promise<void> {
  const path = join(folder, MODEL_RECORD);
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(record, null, 2) + "\n");
  await rename(temp, path);
}

function unknownModel(name: string): DanluError {
  return new DanluError(`"${name}" is not a model danlu knows`, {
    hint: `known: ${KNOWN_MODELS.map((m) => m.name).join(", ")} (or pass a folder path)`,
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
  // A known model copied in by hand is usable once all its files are there.
  const incomplete = known !== undefined && !known.files.every((f) => paths.has(f.path));
  const partial = files.some((f) => f.path.endsWith(".part")) || (!record && incomplete);
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
    throw new DanluError(`${nameOrPath} is not installed in ${modelsDir(dir)}`, {
      hint: `run: danlu models pull ${nameOrPath}${dir ? ` --dir ${dir}` : ""}`,
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
