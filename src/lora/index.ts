// LoRA files without Python: safetensors read/write, kohya key layout, inspection.
export { DTYPE_BYTES, decodeValues, encodeValues, type Dtype } from "./dtypes.ts";
export {
  hashSafetensorsData,
  readSafetensorsHeader,
  readTensorsBytes,
  readTensorsValues,
  serializeSafetensors,
  writeSafetensors,
} from "./safetensors.ts";
export type { SafetensorsHeader, TensorEntry, TensorToWrite } from "./safetensors.ts";
export { readBlockNorms, readLoraInfo } from "./lora-info.ts";
export type { BlockNorm } from "./block-norms.ts";
export { triggerWords, type TriggerWord } from "./triggers.ts";
export type { HashStatus, LoraInfo, LoraModuleInfo, LoraPartSummary } from "./lora-info.ts";
export { describeLora } from "./describe.ts";
export { inspectLora, type LoraInspection } from "./inspect.ts";
export type { LoraSummary } from "./describe.ts";
export { formatBlockNorms, formatLoraInfo } from "./format-info.ts";
export type { LoraPart, ModuleKind } from "./lora-keys.ts";
