import { DanluError } from "../../errors.ts";
import { checkKeyValue } from "../check-value.ts";
import { didYouMean } from "../did-you-mean.ts";
import { resolveTrainConfig } from "../resolve.ts";
import type { TrainConfigLayer } from "../schema.ts";
import { CHARACTER } from "./character.ts";
import { CONCEPT } from "./concept.ts";
import { FACE_SDXL } from "./face-sdxl.ts";
import { PERSON } from "./person.ts";
import { PORTRAIT } from "./portrait.ts";
import { STYLE } from "./style.ts";
import type { PresetAdvice, PresetDefinition, PresetGroup, PresetSetting } from "./types.ts";

export { GUIDES } from "./types.ts";
export type { PresetAdvice, PresetDefinition, PresetSetting } from "./types.ts";

/** `danlu train --preset NAME`: the guides' settings for each kind of LoRA. */
export const PRESETS: Record<string, PresetDefinition> = {
  person: PERSON,
  character: CHARACTER,
  style: STYLE,
  concept: CONCEPT,
  "face-sdxl": FACE_SDXL,
  portrait: PORTRAIT,
};
export const PRESET_NAMES = Object.keys(PRESETS);

/** A preset as it applies today: the settings danlu accepts, and what the guide wanted but danlu lacks. */
export interface ResolvedPreset {
  name: string;
  summary: string;
  settings: PresetSetting[];
  /** One line per wanted setting danlu cannot take yet (nothing was set for it). */
  missing: string[];
  advice: PresetAdvice[];
}

// Placeholders for the keys a run must name itself, so a preset's layer can be checked on its own.
const PLACEHOLDERS: TrainConfigLayer = {
  pretrained_model_name_or_path: "/model.safetensors",
  train_data_dir: "/train",
  output_dir: "/out",
};

/** The option's settings as a layer (each value checked), or null when danlu does not take them. */
function acceptedLayer(base: TrainConfigLayer, option: PresetSetting[]): TrainConfigLayer | null {
  const layer: Record<string, unknown> = { ...base };
  for (const setting of option) {
    const check = checkKeyValue(setting.key, setting.value);
    if (!check.ok) return null;
    layer[setting.key] = check.value;
  }
  try {
    resolveTrainConfig([PLACEHOLDERS, layer as TrainConfigLayer]); // cross-key rules hold too
  } catch {
    return null;
  }
  return layer as TrainConfigLayer;
}

function chooseOption(group: PresetGroup, base: TrainConfigLayer) {
  for (const option of group.options) {
    const layer = acceptedLayer(base, option);
    if (layer) return { layer, option };
  }
  return null;
}

/** Finds a preset by name; an unknown name is a DanluError listing the presets. */
export function findPreset(name: string): PresetDefinition {
  const preset = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (preset) return preset;
  throw new DanluError(`unknown preset '${name}'${didYouMean(name, PRESET_NAMES)}`, {
    code: "PRESET_UNKNOWN",
    hint: `presets: ${PRESET_NAMES.join(", ")} (danlu presets list)`,
  });
}

/** The preset's settings as danlu takes them today (the first accepted option of each group). */
export function resolvePreset(name: string): ResolvedPreset {
  return resolveDefinition(findPreset(name));
}

/** A definition's settings as danlu takes them today. */
export function resolveDefinition(preset: PresetDefinition): ResolvedPreset {
  const name = preset.name;
  let layer: TrainConfigLayer = {};
  const settings: PresetSetting[] = [];
  const missing: string[] = [];
  for (const group of preset.groups) {
    const chosen = chooseOption(group, layer);
    if (chosen) {
      layer = chosen.layer;
      const values = layer as Record<string, unknown>;
      settings.push(...chosen.option.map((setting) => ({ ...setting, value: values[setting.key] })));
    } else if (group.missing) {
      missing.push(group.missing);
    } else {
      throw new Error(
        `preset ${name}: no option of a group is accepted (${JSON.stringify(group.options[0])})`,
      );
    }
  }
  return { name: preset.name, summary: preset.summary, settings, missing, advice: preset.advice };
}

/** The preset as a config layer (it sits above the defaults and below every file and flag). */
export function presetLayer(name: string): TrainConfigLayer {
  const layer: Record<string, unknown> = {};
  for (const setting of resolvePreset(name).settings) layer[setting.key] = setting.value;
  return layer as TrainConfigLayer;
}

// The run's length is one decision: a later layer that sets any of these replaces the preset's.
const LENGTH_KEYS = ["max_train_steps", "max_train_epochs", "max_train_steps_per_image"] as const;

/**
 * The layers of a run with a preset: preset < kohya config < the rest (--config, flags). Keys the kohya
 * import filled from sd-scripts' defaults (not written in its file) do not override the preset, and a later
 * layer that sets the run's length replaces the preset's length settings.
 */
export function stackWithPreset(
  preset: TrainConfigLayer,
  kohya: { config: TrainConfigLayer; defaulted: readonly string[] } | null,
  rest: readonly TrainConfigLayer[],
): TrainConfigLayer[] {
  const kohyaLayer: Record<string, unknown> = { ...(kohya?.config ?? {}) };
  for (const key of kohya?.defaulted ?? []) if (Object.hasOwn(preset, key)) delete kohyaLayer[key];
  const later = [kohyaLayer, ...rest];
  const lengthSetLater = later.some((layer) => LENGTH_KEYS.some((key) => isSet(layer, key)));
  const base: Record<string, unknown> = { ...preset };
  if (lengthSetLater) for (const key of LENGTH_KEYS) delete base[key];
  return [base as TrainConfigLayer, ...(later as TrainConfigLayer[])];
}

function isSet(layer: Record<string, unknown>, key: string): boolean {
  return layer[key] !== undefined && layer[key] !== null;
}
