import { isAbsolute, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import { absolutePath, checkKeyValue, readTomlFile, where } from "./check-value.ts";
import { didYouMean } from "./did-you-mean.ts";
import {
  KOHYA_DEFAULTS,
  KOHYA_EMPTY_MEANS_UNSET,
  KOHYA_IGNORED_KEYS,
  kohyaOptimizerType,
} from "./kohya-keys.ts";
import { TRAIN_KEY_NAMES, type TrainConfigLayer } from "./schema.ts";

export interface KohyaImport {
  /** danlu keys, each checked; sd-scripts' defaults fill the keys where danlu's differ. */
  config: TrainConfigLayer;
  /** One line per key that was not taken over, with the reason (never silently dropped). */
  warnings: string[];
  /** The file's dataset_config, if any (absolute), for loadKohyaDatasetConfig. */
  datasetConfig: string | null;
  /** Keys filled from sd-scripts' defaults because the file does not set them (a preset may set them). */
  defaulted: string[];
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** sd-scripts merges every [section] into one flat namespace (read_config_from_file); so does this. */
function flatten(data: Record<string, unknown>, warnings: string[]): Map<string, unknown> {
  const flat = new Map<string, unknown>();
  const put = (key: string, value: unknown, section: string): void => {
    if (flat.has(key) && JSON.stringify(flat.get(key)) !== JSON.stringify(value)) {
      warnings.push(
        `${key} is set twice with different values; the one in ${section} wins (as in sd-scripts)`,
      );
    }
    flat.set(key, value);
  };
  for (const [key, value] of Object.entries(data)) {
    if (isTable(value)) for (const [inner, v] of Object.entries(value)) put(inner, v, `[${key}]`);
    else put(key, value, "the top level");
  }
  return flat;
}

type Outcome = { set: Record<string, unknown> } | { warn: string } | { error: string } | { skip: true };

/** What one sd-scripts key/value becomes in danlu. */
function translate(key: string, value: unknown): Outcome {
  if (value === "" && KOHYA_EMPTY_MEANS_UNSET.has(key)) return { skip: true };
  switch (key) {
    case "caption_extention": // sd-scripts' old misspelling, still accepted there
      return translate("caption_extension", value);
    case "v2":
    case "sdxl":
    case "v_parameterization":
      // false is sd-scripts' default, not a statement about the model: let danlu detect.
      return value === false ? { skip: true } : { set: { [key]: value } };
    case "optimizer_type":
      return { set: { optimizer_type: kohyaOptimizerType(value) } };
    case "use_8bit_adam":
      return value === true ? { set: { optimizer_type: "AdamW8bit" } } : { skip: true };
    case "use_lion_optimizer":
      return value === true ? { set: { optimizer_type: "Lion" } } : { skip: true };
    case "text_encoder_lr":
      return textEncoderLr(value);
    case "network_args":
      return Array.isArray(value)
        ? { set: { network_args: value.map(String) } }
        : { set: { network_args: value } };
    case "dataset_config":
      return { skip: true }; // returned separately
  }
  if (Object.hasOwn(KOHYA_IGNORED_KEYS, key)) return { warn: `${key} ignored: ${KOHYA_IGNORED_KEYS[key]}` };
  if (!TRAIN_KEY_NAMES.includes(key as never)) {
    const known = [...TRAIN_KEY_NAMES, ...Object.keys(KOHYA_IGNORED_KEYS)];
    return { warn: `${key} is not supported by danlu and was ignored${didYouMean(key, known)}` };
  }
  return { set: { [key]: value } };
}

/** sd-scripts takes one value, or one per text encoder (SDXL: TE1 TE2 -> text_encoder_lr, text_encoder_lr2). */
function textEncoderLr(value: unknown): Outcome {
  if (!Array.isArray(value)) return { set: { text_encoder_lr: value } };
  if (value.length === 0) return { skip: true };
  if (value.length > 2) {
    return {
      error: `text_encoder_lr ${JSON.stringify(value)}: one value, or two (one per SDXL text encoder)`,
    };
  }
  if (value.length === 1) return { set: { text_encoder_lr: value[0] } };
  return { set: { text_encoder_lr: value[0], text_encoder_lr2: value[1] } };
}

/**
 * Reads an sd-scripts / kohya_ss training config TOML (flat, or with [model_arguments]-style sections) into
 * danlu keys. Unknown and ignored keys become warnings; a value danlu cannot honour is an error.
 * Relative paths count from the working directory, as sd-scripts opens them.
 */
export async function loadKohyaConfig(path: string): Promise<KohyaImport> {
  const { text, data } = await readTomlFile(path, "kohya config");
  const warnings: string[] = [];
  const errors: string[] = [];
  const layer: Record<string, unknown> = { ...KOHYA_DEFAULTS };
  const flat = flatten(data, warnings);
  const fromFile = new Set<string>();
  for (const [key, value] of flat) {
    const outcome = translate(key, value);
    if ("warn" in outcome) warnings.push(`${where(path, text, key)}: ${outcome.warn}`);
    else if ("error" in outcome) errors.push(`${where(path, text, key)}: ${outcome.error}`);
    else if ("set" in outcome) {
      for (const [danluKey, danluValue] of Object.entries(outcome.set)) {
        const check = checkKeyValue(danluKey, danluValue);
        fromFile.add(danluKey);
        if (check.ok) layer[danluKey] = absolutePath(danluKey, check.value, process.cwd());
        else errors.push(`${where(path, text, key)}: ${check.problem}`);
      }
    }
  }
  if (errors.length > 0) {
    throw new DanluError(
      errors.length === 1
        ? (errors[0] ?? "")
        : `${path}: ${errors.length} settings danlu cannot take:\n  ${errors.join("\n  ")}`,
      {
        code: "KOHYA_UNSUPPORTED",
        hint: "change or remove these settings in the file, or override them with flags",
      },
    );
  }
  const dataset = flat.get("dataset_config");
  const datasetConfig = typeof dataset === "string" && dataset !== "" ? absolute(dataset) : null;
  const defaulted = Object.keys(KOHYA_DEFAULTS).filter((key) => !fromFile.has(key));
  return { config: layer as TrainConfigLayer, warnings, datasetConfig, defaulted };
}

/** sd-scripts opens paths relative to the working directory; so does the import. */
export function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(process.cwd(), path);
}
