import { createHash } from "node:crypto";
import { basename, relative, resolve } from "node:path";
import { TRAIN_KEYS, type TrainConfig } from "../config/index.ts";
import { baseCaption, type KohyaDataset } from "../dataset/kohya/index.ts";
import type { Arch, RunRecord } from "../engine/spec.ts";
import { modelFingerprint } from "./class-images.ts";
import type { TrainPlan } from "./plan.ts";

type TrainKey = keyof typeof TRAIN_KEYS;

/**
 * Config keys a resumed run may change: they do not change what is trained, or the record holds what
 * they point to by content (dataset, base model), or the length check compares them. Every other key,
 * including keys added later, is recorded and must be equal on resume.
 */
export const NOT_RECORDED: ReadonlySet<TrainKey> = new Set<TrainKey>([
  // compared by content: the base model's and VAE's identity, the folders' images and captions, the arch
  ...["pretrained_model_name_or_path", "vae", "v2", "sdxl"],
  ...["train_data_dir", "reg_data_dir", "caption_extension"],
  // generated regularization images: the images themselves are in the dataset record
  ...[
    "class_images_target",
    "class_prompt",
    "class_negative_prompt",
    "class_images_steps",
    "class_images_sampler",
  ],
  // the run's length: compared by resume-check.ts (more epochs on the same data continue the run)
  ...["max_train_epochs", "max_train_steps", "max_train_steps_per_image"],
  // where and when files are written, and what they say
  ...[
    "output_dir",
    "output_name",
    "save_every_n_epochs",
    "save_every_n_steps",
    "save_state",
    "save_precision",
  ],
  ...["training_comment", "trigger_word"],
  // measured, not trained on (validation_split and validation_seed choose the held-out images: recorded)
  ...["validation_data_dir", "validate_every_n_steps"],
  // speed and memory switches: the same arithmetic. num_processes is recorded: it sets the micro-batches
  // of each optimizer step (ABSENT_MEANS)
  ...["device", "gpu_ids", "gradient_checkpointing", "cache_latents", "cache_latents_to_disk"],
  ...["cache_text_encoder_outputs", "no_half_vae"],
  // samples during training
  ...["sample_prompts", "sample_every_n_epochs", "sample_every_n_steps", "sample_sampler", "sample_at_first"],
] as TrainKey[]);

/**
 * Recorded keys that older states lack, and the value their absence stands for: such a key is left out of
 * the record at that value, so states saved before it was recorded still resume.
 */
export const ABSENT_MEANS: Partial<Record<TrainKey, RunRecord["settings"][string]>> = { num_processes: 1 };

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** "{name}" or "reg/{name}": the folder's name without its "{repeats}_", so changing repeats keeps the key. */
export function folderKey(dir: string, isReg: boolean): string {
  const name = basename(dir).replace(/^\d+_/u, "");
  return isReg ? `reg/${name}` : name;
}

/** Each folder's repeats, and each image's file identity and caption hash, keyed by folder and file name. */
export function datasetRecord(dataset: KohyaDataset): RunRecord["dataset"] {
  const folders: RunRecord["dataset"]["folders"] = {};
  const images: RunRecord["dataset"]["images"] = {};
  for (const subset of dataset.subsets) {
    let key = folderKey(subset.dir, subset.isReg);
    for (let n = 2; key in folders; n++) key = `${folderKey(subset.dir, subset.isReg)} (${n})`;
    folders[key] = { repeats: subset.repeats };
    for (const image of subset.images) {
      images[`${key}/${relative(subset.dir, image.path)}`] = {
        file: modelFingerprint(image.path),
        caption: sha256(baseCaption(image, subset)),
      };
    }
  }
  return { folders, images };
}

function settingsRecord(config: TrainConfig): RunRecord["settings"] {
  const settings: RunRecord["settings"] = {};
  for (const key of Object.keys(TRAIN_KEYS) as TrainKey[]) {
    if (NOT_RECORDED.has(key)) continue;
    const value = (config as Record<string, unknown>)[key];
    if (key in ABSENT_MEANS && value === ABSENT_MEANS[key]) continue;
    settings[key] =
      value === undefined ? null : (JSON.parse(JSON.stringify(value)) as RunRecord["settings"][string]);
  }
  return settings;
}

/** What this run is, for its saved states: see runRecord in src/engine/spec.ts. */
export function runRecordOf(
  config: TrainConfig,
  arch: Arch,
  dataset: KohyaDataset,
  plan: TrainPlan,
): RunRecord {
  const identified = (path: string) => ({ path: resolve(path), id: modelFingerprint(path) });
  return {
    version: 1,
    arch,
    settings: settingsRecord(config),
    base_model: identified(config.pretrained_model_name_or_path),
    vae: config.vae ? identified(config.vae) : null,
    dataset: datasetRecord(dataset),
    length: {
      max_train_epochs: config.max_train_epochs ?? null,
      max_train_steps: config.max_train_steps,
      max_train_steps_per_image: config.max_train_steps_per_image ?? null,
      steps_per_epoch: plan.stepsPerEpoch,
      epochs: plan.numEpochs,
      total_steps: plan.totalSteps,
    },
  };
}
