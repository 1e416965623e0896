import { DanluError } from "../errors.ts";
import { blockNorms, type BlockNorm } from "./block-norms.ts";
import type { LoraLayout } from "./convert/modules.ts";
import { withKohyaView } from "./kohya-view.ts";
import {
  groupModules,
  kindOf,
  rankOf,
  shapeOf,
  describeNonLora,
  type LoraPart,
  type ModuleKind,
} from "./lora-keys.ts";
import {
  hashSafetensorsData,
  readSafetensorsHeader,
  readTensorsValues,
  type SafetensorsHeader,
} from "./safetensors.ts";

export interface LoraModuleInfo {
  name: string;
  part: LoraPart;
  kind: ModuleKind;
  rank: number | null;
  /** From the module's .alpha tensor; null when absent (then alpha = rank: scale 1). */
  alpha: number | null;
  shape: string | null;
}

export interface LoraPartSummary {
  part: LoraPart;
  modules: number;
  kinds: Partial<Record<ModuleKind, number>>;
  ranks: number[]; // distinct, ascending
  alphas: number[];
}

export type HashStatus = "ok" | "mismatch" | "absent" | "not checked";

export interface LoraInfo {
  path: string;
  /** The file's key layout; modules are named as kohya names them whichever it is. */
  layout: LoraLayout;
  fileSize: number;
  tensorCount: number;
  dtypes: Record<string, number>; // dtype -> tensor count
  metadata: Record<string, string>;
  modules: LoraModuleInfo[];
  parts: LoraPartSummary[];
  hash: { stored: string | null; computed: string | null; status: HashStatus };
}

const PART_ORDER: LoraPart[] = ["unet", "te", "te1", "te2", "other"];

/** Every module's alpha scalar, read in one pass; a module without one maps to null. */
async function alphasOf(
  header: SafetensorsHeader,
  moduleNames: string[],
): Promise<Map<string, number | null>> {
  const keys = moduleNames.map((name) => `${name}.alpha`).filter((key) => header.tensors[key]);
  const values = await readTensorsValues(header, keys);
  const alphas = new Map<string, number | null>();
  for (const name of moduleNames) {
    const value = values.get(`${name}.alpha`);
    if (value && value.length !== 1) {
      throw new DanluError(`${header.path}: ${name}.alpha should hold one value, has ${value.length}`, {
        code: "BAD_LORA",
      });
    }
    alphas.set(name, value?.[0] ?? null);
  }
  return alphas;
}

function summarize(modules: LoraModuleInfo[]): LoraPartSummary[] {
  const distinct = (values: (number | null)[]): number[] =>
    [...new Set(values.filter((v): v is number => v !== null))].sort((a, b) => a - b);
  return PART_ORDER.flatMap((part) => {
    const inPart = modules.filter((m) => m.part === part);
    if (inPart.length === 0) return [];
    const kinds: Partial<Record<ModuleKind, number>> = {};
    for (const m of inPart) kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;
    return [
      {
        part,
        modules: inPart.length,
        kinds,
        ranks: distinct(inPart.map((m) => m.rank)),
        alphas: distinct(inPart.map((m) => m.alpha)),
      },
    ];
  });
}

function notALora(path: string, keys: string[]): DanluError {
  const what = describeNonLora(keys);
  return new DanluError(
    `${path} is not a LoRA${what ? `: it looks like ${what}` : ": it has no lora_unet/lora_te modules"}`,
    {
      code: "NOT_A_LORA",
      hint: what?.startsWith("a base model") ? "`danlu model info FILE` describes checkpoints" : undefined,
    },
  );
}

async function hashCheck(header: SafetensorsHeader, check: boolean): Promise<LoraInfo["hash"]> {
  const stored = header.metadata.sshs_model_hash ?? null;
  if (!check) return { stored, computed: null, status: "not checked" };
  const computed = await hashSafetensorsData(header);
  return { stored, computed, status: stored === null ? "absent" : stored === computed ? "ok" : "mismatch" };
}

/**
 * What a LoRA file holds, read without Python: metadata, modules by part with kind, rank and alpha,
 * and whether sshs_model_hash matches the data. Reads the header, the alpha scalars and (with
 * `hash`) streams the data once.
 */
export async function readLoraInfo(path: string, options: { hash?: boolean } = {}): Promise<LoraInfo> {
  const header = await readSafetensorsHeader(path);
  const keys = Object.keys(header.tensors);
  // diffusers/PEFT and ComfyUI files (danlu lora convert writes them) are read through kohya names.
  const { layout, modules } = await withKohyaView(path, async (view) => ({
    layout: view.layout ?? "kohya",
    modules: await readModules(view.path === path ? header : await readSafetensorsHeader(view.path), keys),
  }));
  const dtypes: Record<string, number> = {};
  for (const entry of Object.values(header.tensors)) dtypes[entry.dtype] = (dtypes[entry.dtype] ?? 0) + 1;
  return {
    path,
    layout,
    fileSize: header.fileSize,
    tensorCount: keys.length,
    dtypes,
    metadata: header.metadata,
    modules,
    parts: summarize(modules),
    hash: await hashCheck(header, options.hash ?? true),
  };
}

/** The modules of a kohya-named file; `keys` are the file's own, for the not-a-LoRA message. */
async function readModules(header: SafetensorsHeader, keys: string[]): Promise<LoraModuleInfo[]> {
  const groups = groupModules(header.tensors).filter((g) => g.part !== "other" || kindOf(g) !== "unknown");
  if (groups.length === 0 || groups.every((g) => kindOf(g) === "unknown")) throw notALora(header.path, keys);
  const alphas = await alphasOf(
    header,
    groups.map((g) => g.name),
  );
  return groups.map((group) => {
    const kind = kindOf(group);
    const alpha = alphas.get(group.name) ?? null;
    return {
      name: group.name,
      part: group.part,
      kind,
      rank: rankOf(group, kind),
      alpha,
      shape: shapeOf(group),
    };
  });
}

/** Per-block weight norms of a LoRA read with readLoraInfo (reads every lora_up/lora_down tensor once). */
export async function readBlockNorms(info: LoraInfo, sdxl: boolean): Promise<BlockNorm[]> {
  return withKohyaView(info.path, async (view) =>
    blockNorms(await readSafetensorsHeader(view.path), info.modules, sdxl ? "sdxl" : "sd"),
  );
}
