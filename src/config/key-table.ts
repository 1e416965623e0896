import { KEY_DESCRIPTIONS_ZH } from "./key-descriptions-zh.ts";
import { trainConfigDefaults } from "./resolve.ts";
import { TRAIN_KEYS, type TrainConfigLayer, type TrainKey } from "./schema.ts";

/** One training key as `danlu config show` and GET /api/config/schema describe it. */
export interface KeyRow {
  key: TrainKey;
  /** undefined: required and not set */
  value: unknown;
  source: "default" | "file";
  type: string;
  description: string;
  /** the description in Chinese, for the web UI */
  descriptionZh: string;
}

/** Every training key with its value (from `file`, else its default), type label and description. */
export function trainKeyTable(file: TrainConfigLayer = {}): KeyRow[] {
  const defaults = trainConfigDefaults();
  return (Object.keys(TRAIN_KEYS) as TrainKey[]).map((key) => {
    const fromFile = Object.hasOwn(file, key);
    return {
      key,
      value: fromFile ? file[key] : defaults[key],
      source: fromFile ? "file" : "default",
      type: TRAIN_KEYS[key].typeLabel,
      description: TRAIN_KEYS[key].description,
      descriptionZh: KEY_DESCRIPTIONS_ZH[key],
    };
  });
}
