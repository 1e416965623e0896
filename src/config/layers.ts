import { loadKohyaDatasetConfig, type DatasetSubset } from "./kohya-dataset.ts";
import { loadKohyaConfig } from "./kohya.ts";
import { loadTrainConfigFile } from "./load-file.ts";
import { presetLayer, resolvePreset, stackWithPreset } from "./presets/index.ts";
import { resolveTrainConfig } from "./resolve.ts";
import type { TrainConfig, TrainConfigLayer } from "./schema.ts";

/** Where a run's settings come from; `danlu train` and the service's train job both build one. */
export interface TrainLayerSources {
  /** A preset name (`--preset`): the lowest layer above the defaults. */
  preset?: string;
  /** An sd-scripts config TOML (`--kohya-config`); its dataset_config's subsets are read too. */
  kohyaConfig?: string;
  /** A danlu config TOML (`--config`). */
  configFile?: string;
  /** Later layers, the last winning: the flags, or a job's config object and the keys it fixes. */
  layers?: readonly TrainConfigLayer[];
}

export interface TrainLayers {
  config: TrainConfig;
  /** A kohya dataset config's [[datasets.subsets]] (empty without one). */
  subsets: DatasetSubset[];
  /** What the imports and the preset could not carry over, one line each. */
  warnings: string[];
}

/**
 * The config from its layers: defaults < preset < kohya import < config file < later layers. Keys the kohya
 * import only defaulted do not override the preset (stackWithPreset); then resolveTrainConfig checks it all.
 */
export async function loadTrainLayers(sources: TrainLayerSources): Promise<TrainLayers> {
  let layers: TrainConfigLayer[] = [];
  const warnings: string[] = [];
  let subsets: DatasetSubset[] = [];
  let kohyaImport: { config: TrainConfigLayer; defaulted: string[] } | null = null;
  if (sources.kohyaConfig) {
    const kohya = await loadKohyaConfig(sources.kohyaConfig);
    kohyaImport = kohya;
    layers.push(kohya.config);
    warnings.push(...kohya.warnings);
    if (kohya.datasetConfig) {
      const dataset = await loadKohyaDatasetConfig(kohya.datasetConfig);
      layers.push(dataset.config);
      warnings.push(...dataset.warnings);
      subsets = dataset.subsets;
    }
  }
  if (sources.configFile) layers.push(await loadTrainConfigFile(sources.configFile));
  layers.push(...(sources.layers ?? []));
  if (sources.preset) {
    const rest = kohyaImport ? layers.slice(1) : layers;
    layers = stackWithPreset(presetLayer(sources.preset), kohyaImport, rest);
    for (const line of resolvePreset(sources.preset).missing)
      warnings.push(`preset ${sources.preset}: ${line}`);
  }
  return { config: resolveTrainConfig(layers, { subsetsGiven: subsets.length > 0 }), subsets, warnings };
}
