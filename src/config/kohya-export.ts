import { renameSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { stringify } from "smol-toml";
import type { Arch } from "../engine/spec.ts";
import { DATASET_KEYS, SHARED_SUBSET_KEYS, type DatasetSubset } from "./kohya-dataset.ts";
import { TRAIN_KEY_NAMES, type TrainConfig } from "./schema.ts";

/**
 * `danlu train --export-kohya FILE`: the resolved settings as an sd-scripts training config TOML (flat keys,
 * as sd-scripts' --output_config writes them), read back by `--kohya-config` to the same settings.
 * Keys sd-scripts has no argument for go into a final [danlu] table: sd-scripts merges every table into
 * its arguments and does nothing with names it does not know, danlu reads them back.
 */

/** danlu settings that are not sd-scripts arguments (and every pivotal_* key: sd-scripts has no pivotal tuning). */
const DANLU_ONLY_KEYS = new Set([
  "trigger_word",
  "device",
  "num_processes", // accelerate launch's arguments, not sd-scripts' (pass them to accelerate)
  "gpu_ids",
  "max_train_steps_per_image",
  "validation_data_dir",
]);

export function isDanluOnlyKey(key: string): boolean {
  return DANLU_ONLY_KEYS.has(key) || key.startsWith("pivotal_");
}

// Dataset-level keys ([[datasets]]) and the subset keys written once in [general]: the import's tables.
const DATASET_LEVEL = DATASET_KEYS;
const GENERAL_LEVEL = SHARED_SUBSET_KEYS;

export interface KohyaExportOptions {
  /** The run's image folders when it reads them from a dataset config: written as one (dataset_config). */
  subsets?: readonly DatasetSubset[];
  /** The detected model kind: sd-scripts must be told v2 (and SDXL needs sdxl_train_network.py). */
  arch?: Arch | null;
  /** The plan's total steps: written as max_train_steps when max_train_steps_per_image decides the length. */
  totalSteps?: number | null;
}

/**
 * Values that mean "off" in danlu and are left out, because sd-scripts spells "off" as an absent key
 * (0 there divides by zero, e.g. save_every_n_epochs) and danlu reads an absent key as the same "off".
 */
function leftOut(key: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (["v2", "sdxl", "v_parameterization"].includes(key)) return value !== true; // absent: detect
  if (key === "max_token_length") return value === 75;
  if (key === "num_processes") return value === 1; // absent reads back as one process
  const offWhenZero = [
    "save_every_n_epochs",
    "save_every_n_steps",
    "sample_every_n_epochs",
    "sample_every_n_steps",
    "validate_every_n_steps",
  ];
  if (offWhenZero.includes(key)) return value === 0;
  return value === "" && ["caption_prefix", "caption_suffix", "keep_tokens_separator"].includes(key);
}

/** A value as sd-scripts reads it (resolution is the "W,H" string its argument parser takes). */
function kohyaValue(key: string, value: unknown): unknown {
  if (key === "resolution" && Array.isArray(value)) return `${value[0]},${value[1]}`;
  return value;
}

function line(key: string, value: unknown): string {
  return stringify({ [key]: value }).trimEnd();
}

/** The settings as sd-scripts config lines: [sd-scripts lines, danlu-only lines]. */
function settingLines(config: TrainConfig, options: KohyaExportOptions): [string[], string[]] {
  const values: Record<string, unknown> = { ...config };
  if (options.arch === "sd2") values.v2 = true;
  if (options.arch === "sdxl") values.sdxl = true;
  if (config.text_encoder_lr2 != null) {
    // sd-scripts takes both rates in one argument: --text_encoder_lr TE1 TE2
    values.text_encoder_lr = [config.text_encoder_lr ?? config.learning_rate, config.text_encoder_lr2];
    values.text_encoder_lr2 = null;
  }
  if (config.max_train_steps_per_image != null && options.totalSteps)
    values.max_train_steps = options.totalSteps;
  if (options.subsets?.length) {
    values.train_data_dir = null; // the dataset config lists the folders (sd-scripts ignores these with it)
    values.reg_data_dir = null;
  }
  const kohya: string[] = [];
  const danlu: string[] = [];
  for (const key of TRAIN_KEY_NAMES) {
    const value = values[key];
    if (leftOut(key, value) || (key.startsWith("pivotal_") && values.pivotal_tuning !== true)) continue;
    (isDanluOnlyKey(key) ? danlu : kohya).push(line(key, kohyaValue(key, value)));
  }
  return [kohya, danlu];
}

/** The dataset config TOML for a run whose images come from subsets. */
export function kohyaDatasetText(config: TrainConfig, subsets: readonly DatasetSubset[]): string {
  const values = config as Record<string, unknown>;
  const lines = [
    "# sd-scripts dataset config written by danlu (one dataset; its folders as subsets)",
    "[general]",
  ];
  for (const key of GENERAL_LEVEL) if (!leftOut(key, values[key])) lines.push(line(key, values[key]));
  lines.push("", "[[datasets]]");
  for (const [kohyaKey, danluKey] of Object.entries(DATASET_LEVEL))
    lines.push(line(kohyaKey, values[danluKey]));
  for (const subset of subsets) {
    lines.push("", "  [[datasets.subsets]]", `  ${line("image_dir", subset.image_dir)}`);
    lines.push(`  ${line("num_repeats", subset.num_repeats)}`, `  ${line("is_reg", subset.is_reg)}`);
    if (subset.class_tokens !== null) lines.push(`  ${line("class_tokens", subset.class_tokens)}`);
  }
  return lines.join("\n") + "\n";
}

/** The training config TOML; `datasetPath` is written as dataset_config when the run uses subsets. */
export function kohyaConfigText(
  config: TrainConfig,
  options: KohyaExportOptions & { datasetPath?: string | null } = {},
): string {
  const [kohya, danlu] = settingLines(config, options);
  const script = options.arch === "sdxl" || config.sdxl ? "sdxl_train_network.py" : "train_network.py";
  const lines = [
    `# sd-scripts training config written by danlu: accelerate launch ${script} --config_file THIS_FILE`,
    ...kohya,
  ];
  if (options.datasetPath) lines.push(line("dataset_config", options.datasetPath));
  if (danlu.length > 0) {
    lines.push(
      "",
      "# danlu settings sd-scripts has no argument for (it ignores them; danlu reads them back)",
    );
    lines.push("[danlu]", ...danlu);
  }
  return lines.join("\n") + "\n";
}

function writeAtomically(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(temp, text, "utf8");
  renameSync(temp, path);
}

/** Writes FILE (and FILE's `_dataset.toml` beside it when the run uses subsets); returns the paths written. */
export function writeKohyaExport(
  file: string,
  config: TrainConfig,
  options: KohyaExportOptions = {},
): string[] {
  const path = resolve(file);
  const written: string[] = [];
  let datasetPath: string | null = null;
  if (options.subsets?.length) {
    const ext = extname(path);
    datasetPath = `${ext ? path.slice(0, -ext.length) : path}_dataset.toml`;
    writeAtomically(datasetPath, kohyaDatasetText(config, options.subsets));
    written.push(datasetPath);
  }
  writeAtomically(path, kohyaConfigText(config, { ...options, datasetPath }));
  return [path, ...written];
}
