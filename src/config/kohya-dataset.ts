import { DanluError } from "../errors.ts";
import { checkKeyValue, readTomlFile } from "./check-value.ts";
import { didYouMean } from "./did-you-mean.ts";
import { absolute } from "./kohya.ts";
import type { TrainConfigLayer } from "./schema.ts";

/** One image folder of a kohya dataset config, for the trainer (instead of train_data_dir's subfolders). */
export interface DatasetSubset {
  image_dir: string; // absolute
  num_repeats: number;
  class_tokens: string | null; // the caption of images without a caption file
  is_reg: boolean;
}

export interface KohyaDatasetImport {
  config: TrainConfigLayer;
  subsets: DatasetSubset[];
  warnings: string[];
}

// Dataset-level keys (sd-scripts config_util DATASET_ASCENDABLE_SCHEMA) and their danlu names.
export const DATASET_KEYS: Record<string, string> = {
  batch_size: "train_batch_size",
  resolution: "resolution",
  enable_bucket: "enable_bucket",
  min_bucket_reso: "min_bucket_reso",
  max_bucket_reso: "max_bucket_reso",
  bucket_reso_steps: "bucket_reso_steps",
  bucket_no_upscale: "bucket_no_upscale",
  validation_split: "validation_split",
  validation_seed: "validation_seed",
};
// Subset keys danlu applies to the whole run: every subset must agree on them.
export const SHARED_SUBSET_KEYS = [
  "caption_extension",
  "shuffle_caption",
  "keep_tokens",
  "keep_tokens_separator",
  "caption_separator",
  "flip_aug",
  "caption_prefix",
  "caption_suffix",
  "caption_dropout_rate",
  "caption_tag_dropout_rate",
];
const PER_SUBSET_KEYS = ["image_dir", "num_repeats", "class_tokens", "is_reg"];
// sd-scripts features danlu has not got yet, with the value that means "off" (accepted silently).
const UNSUPPORTED_UNLESS: Record<string, unknown> = {
  color_aug: false,
  random_crop: false,
  face_crop_aug_range: undefined,
  alpha_mask: false,
  enable_wildcard: false,
  secondary_separator: undefined,
  caption_dropout_every_n_epochs: 0,
  token_warmup_min: 1,
  token_warmup_step: 0,
  cache_info: false,
  network_multiplier: 1,
  resize_interpolation: undefined,
  custom_attributes: undefined,
  metadata_file: undefined, // fine-tuning datasets (a JSON of captions)
  conditioning_data_dir: undefined, // ControlNet datasets
};
const KNOWN = [
  ...Object.keys(DATASET_KEYS),
  ...SHARED_SUBSET_KEYS,
  ...PER_SUBSET_KEYS,
  ...Object.keys(UNSUPPORTED_UNLESS),
];

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v);

function tablesOf(value: unknown, what: string, path: string): Table[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isTable)) {
    throw new DanluError(`${path}: ${what} must be an array of tables ([[${what}]])`, {
      code: "KOHYA_DATASET",
    });
  }
  return value;
}

/** Sorts each key of one merged subset into problems/warnings; unknown keys warn with a did-you-mean. */
function screenKeys(merged: Table, label: string, errors: string[], warnings: string[]): void {
  for (const [key, value] of Object.entries(merged)) {
    if (Object.hasOwn(UNSUPPORTED_UNLESS, key)) {
      if (value !== UNSUPPORTED_UNLESS[key])
        errors.push(`${label}: ${key} = ${JSON.stringify(value)} is not supported yet`);
    } else if (!KNOWN.includes(key)) {
      warnings.push(
        `${label}: ${key} is not a dataset setting danlu knows; ignored${didYouMean(key, KNOWN)}`,
      );
    }
  }
}

function toSubset(merged: Table, label: string, errors: string[]): DatasetSubset | undefined {
  const { image_dir, num_repeats = 1, class_tokens = null, is_reg = false } = merged;
  if (typeof image_dir !== "string" || image_dir === "") {
    errors.push(`${label}: image_dir is missing (danlu reads DreamBooth-style subsets: image folders)`);
    return undefined;
  }
  if (!Number.isInteger(num_repeats) || (num_repeats as number) < 1)
    errors.push(`${label}: num_repeats must be an int >= 1`);
  if (class_tokens !== null && typeof class_tokens !== "string")
    errors.push(`${label}: class_tokens must be a string`);
  if (typeof is_reg !== "boolean") errors.push(`${label}: is_reg must be true or false`);
  return {
    image_dir: absolute(image_dir),
    num_repeats: num_repeats as number,
    class_tokens: (class_tokens as string | null) || null,
    is_reg: is_reg as boolean,
  };
}

/** Takes one run-wide value from the merged subsets; they must agree, since danlu applies it to every folder. */
function sharedValue(key: string, merged: Table[], errors: string[]): unknown {
  const values = merged.map((m) => m[key]);
  const first = values[0];
  if (values.some((v) => JSON.stringify(v) !== JSON.stringify(first))) {
    errors.push(
      `subsets disagree on ${key} (${values.map((v) => JSON.stringify(v ?? "unset")).join(" vs ")}); danlu applies it to all folders`,
    );
  }
  return first;
}

/**
 * Reads an sd-scripts dataset config ([general] -> [[datasets]] -> [[datasets.subsets]], the most specific
 * level wins). danlu trains one dataset whose subsets are image folders; anything else is a clear error.
 */
export async function loadKohyaDatasetConfig(path: string): Promise<KohyaDatasetImport> {
  const { data } = await readTomlFile(path, "kohya dataset config");
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const key of Object.keys(data))
    if (key !== "general" && key !== "datasets") warnings.push(`${path}: top-level ${key} ignored`);
  const general = isTable(data.general) ? data.general : {};
  const datasets = tablesOf(data.datasets, "datasets", path);
  if (datasets.length !== 1) {
    throw new DanluError(`${path} has ${datasets.length} [[datasets]]; danlu trains exactly one`, {
      code: "KOHYA_DATASET",
      hint: "put all image folders as [[datasets.subsets]] of one [[datasets]] (one resolution and batch size per run)",
    });
  }
  const { subsets: rawSubsets, ...dataset } = datasets[0] as Table;
  const subsetTables = tablesOf(rawSubsets, "datasets.subsets", path);
  if (subsetTables.length === 0)
    throw new DanluError(`${path}: the dataset has no [[datasets.subsets]]`, { code: "KOHYA_DATASET" });
  const merged = subsetTables.map((subset) => ({ ...general, ...dataset, ...subset }));
  const subsets: DatasetSubset[] = [];
  merged.forEach((m, i) => {
    const label = `${path} subset ${i + 1}`;
    screenKeys(m, label, errors, warnings);
    const subset = toSubset(m, label, errors);
    if (subset) subsets.push(subset);
  });
  const config: Record<string, unknown> = {};
  const take = (danluKey: string, value: unknown): void => {
    if (value === undefined) return;
    const check = checkKeyValue(danluKey, value);
    if (check.ok) config[danluKey] = check.value;
    else errors.push(`${path}: ${check.problem}`);
  };
  for (const [kohyaKey, danluKey] of Object.entries(DATASET_KEYS))
    take(danluKey, sharedValue(kohyaKey, merged, errors));
  for (const key of SHARED_SUBSET_KEYS) take(key, sharedValue(key, merged, errors));
  if (errors.length > 0) {
    const message =
      errors.length === 1
        ? (errors[0] ?? "")
        : `${path}: ${errors.length} problems:\n  ${errors.join("\n  ")}`;
    throw new DanluError(message, {
      code: "KOHYA_DATASET",
      hint: "change these settings in the dataset file (or lay the folders out as train_data_dir/{repeats}_{name})",
    });
  }
  return { config: config as TrainConfigLayer, subsets, warnings };
}
