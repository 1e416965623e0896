// The training config: schema and defaults (schema.ts), danlu TOML files, flags, kohya imports, resolution.
export { TRAIN_KEYS, TRAIN_KEY_NAMES, trainConfig, trainKeyDef } from "./schema.ts";
export type { TrainConfig, TrainConfigLayer, TrainKey } from "./schema.ts";
export { layerFromTable, loadTrainConfigFile } from "./load-file.ts";
export type { TableSource } from "./load-file.ts";
export { loadTrainLayers } from "./layers.ts";
export type { TrainLayerSources, TrainLayers } from "./layers.ts";
export { resolveTrainConfig, trainConfigDefaults } from "./resolve.ts";
export type { ResolveOptions } from "./resolve.ts";
export { addTrainConfigOptions, configFromOptions, flagOf, formatValue } from "./options.ts";
export { loadKohyaConfig } from "./kohya.ts";
export type { KohyaImport } from "./kohya.ts";
export { loadKohyaDatasetConfig } from "./kohya-dataset.ts";
export type { DatasetSubset, KohyaDatasetImport } from "./kohya-dataset.ts";
export {
  ADAPTIVE_LR_OPTIMIZERS,
  OPTIMIZER_DEFAULTS,
  optimizerArgsFor,
  parseOptimizerArgs,
} from "./optimizer-args.ts";
export type { OptimizerSettings } from "./optimizer-args.ts";
export { suggestKey } from "./did-you-mean.ts";
