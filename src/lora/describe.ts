import type { LoraInfo } from "./lora-info.ts";
import { triggerWords, type TriggerWord } from "./triggers.ts";

/** The facts a person asks of a LoRA file, from sd-scripts' ss_* and modelspec.* metadata and the keys. */
export interface LoraSummary {
  architecture: string;
  networkModule: string | null;
  networkArgs: Record<string, unknown> | null;
  dim: string | null;
  alpha: string | null;
  epoch: number | null;
  epochs: number | null;
  steps: number | null;
  resolution: string | null;
  baseModel: string | null;
  triggerPhrase: string | null;
  /** modelspec.trigger_phrase, then tags in every caption of a folder, else the most frequent tags. */
  triggerWords: TriggerWord[];
  datasetDirs: { dir: string; repeats: number | null; images: number | null }[];
  topTags: { tag: string; count: number }[];
  training: Record<string, string>; // a few ss_* settings worth a glance (lr, optimizer, ...)
}

const ARCH_NAMES: Record<string, string> = {
  "stable-diffusion-v1": "SD 1.x",
  "stable-diffusion-v2-512": "SD 2.x (512)",
  "stable-diffusion-v2-768-v": "SD 2.x (768-v)",
  "stable-diffusion-xl-v1-base": "SDXL 1.0",
  sd_v1: "SD 1.x",
  sd_v2: "SD 2.x",
  "sdxl_base_v1-0": "SDXL 1.0",
};

function json<T>(text: string | undefined): T | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function int(text: string | undefined): number | null {
  const value = text === undefined ? Number.NaN : Number(text);
  return Number.isFinite(value) ? value : null;
}

function architecture(info: LoraInfo): string {
  const m = info.metadata;
  const spec = m["modelspec.architecture"];
  if (spec) {
    const [base = spec, kind] = spec.split("/");
    return `${ARCH_NAMES[base] ?? base}${kind ? ` ${kind}` : ""}`;
  }
  const version = m.ss_base_model_version;
  if (version) return ARCH_NAMES[version] ?? version;
  if (m.ss_v2 === "True") return "SD 2.x";
  const parts = new Set(info.modules.map((mod) => mod.part));
  if (parts.has("te1") || parts.has("te2")) return "SDXL (from the key names)";
  if (parts.has("te")) return "SD 1.x/2.x (from the key names)";
  return "unknown";
}

function topTags(
  frequency: Record<string, Record<string, number>> | null,
  limit: number,
): LoraSummary["topTags"] {
  const totals = new Map<string, number>();
  for (const tags of Object.values(frequency ?? {})) {
    for (const [tag, count] of Object.entries(tags ?? {}))
      totals.set(tag.trim(), (totals.get(tag.trim()) ?? 0) + count);
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([tag, count]) => ({ tag, count }));
}

function datasetDirs(text: string | undefined): LoraSummary["datasetDirs"] {
  const dirs = json<Record<string, { n_repeats?: number; img_count?: number }>>(text) ?? {};
  return Object.entries(dirs).map(([dir, v]) => ({
    dir,
    repeats: v?.n_repeats ?? null,
    images: v?.img_count ?? null,
  }));
}

const TRAINING_KEYS: [string, string][] = [
  ["ss_learning_rate", "learning rate"],
  ["ss_unet_lr", "unet lr"],
  ["ss_text_encoder_lr", "text encoder lr"],
  ["ss_optimizer", "optimizer"],
  ["ss_lr_scheduler", "scheduler"],
  ["ss_mixed_precision", "precision"],
  ["ss_clip_skip", "clip skip"],
  ["ss_seed", "seed"],
  ["ss_noise_offset", "noise offset"],
  ["ss_num_train_images", "train images"],
  ["ss_training_started_at", "started"],
  ["ss_training_finished_at", "finished"],
];

/** sd-scripts writes the start and end of training as Unix seconds (time.time()): shown as a UTC date. */
const TIMESTAMP_KEYS = new Set(["ss_training_started_at", "ss_training_finished_at"]);

export function unixSecondsAsDate(text: string): string {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) return text;
  return new Date(seconds * 1000)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

export function describeLora(info: LoraInfo, tagLimit = 10): LoraSummary {
  const m = info.metadata;
  const training: Record<string, string> = {};
  for (const [key, label] of TRAINING_KEYS) {
    const value = m[key];
    if (value !== undefined && value !== "None")
      training[label] = TIMESTAMP_KEYS.has(key) ? unixSecondsAsDate(value) : value;
  }
  const resolution =
    m["modelspec.resolution"] ?? m.ss_resolution?.replace(/[()\s]/g, "").replace(",", "x") ?? null;
  return {
    architecture: architecture(info),
    networkModule: m.ss_network_module ?? null,
    networkArgs: json<Record<string, unknown>>(m.ss_network_args),
    dim: m.ss_network_dim ?? null,
    alpha: m.ss_network_alpha ?? null,
    epoch: int(m.ss_epoch),
    epochs: int(m.ss_num_epochs),
    steps: int(m.ss_steps),
    resolution,
    baseModel: m.ss_sd_model_name ?? null,
    triggerPhrase: m["modelspec.trigger_phrase"] ?? null,
    triggerWords: triggerWords(m),
    datasetDirs: datasetDirs(m.ss_dataset_dirs),
    topTags: topTags(json(m.ss_tag_frequency), tagLimit),
    training,
  };
}
