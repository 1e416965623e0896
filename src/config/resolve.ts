import { DanluError } from "../errors.ts";
import { checkKeyValue } from "./check-value.ts";
import { methodConflict } from "./method-checks.ts";
import { ADAPTIVE_LR_OPTIMIZERS } from "./optimizer-args.ts";
import { checkTextCacheConfig } from "./text-cache.ts";
import { TRAIN_KEYS, trainConfig, type TrainConfig, type TrainConfigLayer, type TrainKey } from "./schema.ts";

const REQUIRED: { key: TrainKey; what: string }[] = [
  {
    key: "pretrained_model_name_or_path",
    what: "the base model (a .safetensors checkpoint or a diffusers folder)",
  },
  { key: "train_data_dir", what: "the folder of {repeats}_{name} image folders" },
  { key: "output_dir", what: "where to write the LoRA files" },
];

export interface ResolveOptions {
  /** The images come from dataset subsets (a kohya dataset config), so train_data_dir may be unset. */
  subsetsGiven?: boolean;
}

function flagName(key: string): string {
  return `--${key.replaceAll("_", "-")}`;
}

/** Merges layers, later ones winning (defaults < file < flags); a key set to undefined does not count. */
function mergeLayers(layers: readonly TrainConfigLayer[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  }
  return merged;
}

function checkRequired(merged: Record<string, unknown>, options: ResolveOptions): void {
  const missing = REQUIRED.filter(({ key }) => {
    if (key === "train_data_dir" && options.subsetsGiven) return false;
    return merged[key] === undefined || merged[key] === null || merged[key] === "";
  });
  if (missing.length === 0) return;
  throw new DanluError(`missing ${missing.map(({ key }) => key).join(", ")}`, {
    code: "CONFIG_MISSING",
    hint: missing
      .map(({ key, what }) => `pass ${flagName(key)} (${what}) or set ${key} in the --config file`)
      .join("; "),
  });
}

/** Checks that hold between keys; each names the keys and what to change. */
function checkConsistency(config: TrainConfig): void {
  const fail = (message: string, hint: string): never => {
    throw new DanluError(message, { code: "CONFIG_CONFLICT", hint });
  };
  if (config.network_train_unet_only && config.network_train_text_encoder_only) {
    fail("network_train_unet_only and network_train_text_encoder_only are both set", "keep one of them");
  }
  if (config.min_bucket_reso > config.max_bucket_reso) {
    fail(
      `min_bucket_reso ${config.min_bucket_reso} is larger than max_bucket_reso ${config.max_bucket_reso}`,
      "swap or correct them",
    );
  }
  if (config.v2 === true && config.sdxl === true)
    fail("v2 and sdxl are both set", "a model is one or the other");
  if (config.keep_tokens_separator !== "" && config.keep_tokens_separator === config.caption_separator) {
    fail("keep_tokens_separator equals caption_separator", 'use a distinct marker such as "|||"');
  }
  const method = methodConflict(config);
  if (method) fail(...method);
  checkTextCacheConfig(config);
  if (
    (config.sample_every_n_epochs > 0 || config.sample_every_n_steps > 0 || config.sample_at_first) &&
    !config.sample_prompts
  ) {
    fail(
      "sampling is turned on but sample_prompts is not set",
      "pass --sample-prompts FILE or turn sampling off",
    );
  }
}

/**
 * The full config from its layers (defaults < file < flags): every value checked again, required keys
 * present, cross-key rules hold. Throws DanluError saying what to pass or change.
 */
export function resolveTrainConfig(
  layers: readonly TrainConfigLayer[],
  options: ResolveOptions = {},
): TrainConfig {
  const merged = mergeLayers(layers);
  // Prodigy/DAdaptAdam: lr multiplies the step size they estimate, so 1.0 is their neutral default.
  if (merged.learning_rate === undefined && ADAPTIVE_LR_OPTIMIZERS.has(String(merged.optimizer_type)))
    merged.learning_rate = 1.0;
  checkRequired(merged, options);
  for (const [key, value] of Object.entries(merged)) {
    const check = checkKeyValue(key, value);
    if (!check.ok) throw new DanluError(check.problem, { code: "CONFIG_INVALID" });
    merged[key] = check.value;
  }
  const parsed = trainConfig.safeParse(structuredClone(merged));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DanluError(`invalid config at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "?"}`, {
      code: "CONFIG_INVALID",
    });
  }
  if (parsed.data.cache_latents_to_disk) parsed.data.cache_latents = true;
  checkConsistency(parsed.data);
  return parsed.data;
}

/** Every key's default (undefined for the required ones): the bottom layer, and what config show prints. */
export function trainConfigDefaults(): Record<TrainKey, unknown> {
  const defaults = {} as Record<TrainKey, unknown>;
  for (const [key, def] of Object.entries(TRAIN_KEYS))
    defaults[key as TrainKey] = structuredClone(def.default);
  return defaults;
}
