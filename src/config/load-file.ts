import { DanluError } from "../errors.ts";
import { dirname, resolve } from "node:path";
import { absolutePath, checkKeyValue, readTomlFile, where } from "./check-value.ts";
import { didYouMean } from "./did-you-mean.ts";
import { KOHYA_IGNORED_KEYS } from "./kohya-keys.ts";
import { TRAIN_KEY_NAMES, type TrainConfigLayer } from "./schema.ts";

function isTable(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Where a table's keys come from, for the messages: "run.toml line 3", "config.seed". */
export interface TableSource {
  /** What the messages call the table as a whole ("run.toml", "config"). */
  name: string;
  /** Where one key is written. */
  where: (key: string) => string;
  /** Relative paths count from here; null leaves them as written. */
  base: string | null;
}

/**
 * A flat table of TRAIN_KEYS (a danlu config TOML, or the `config` object of a training job) as a layer.
 * Every problem (unknown key with did-you-mean, wrong type, a [section]) is reported at once.
 */
export function layerFromTable(data: Record<string, unknown>, source: TableSource): TrainConfigLayer {
  const layer: Record<string, unknown> = {};
  const problems: string[] = [];
  let sawTable = false;
  for (const [key, value] of Object.entries(data)) {
    const at = source.where(key);
    if (isTable(value)) {
      sawTable = true;
      problems.push(`${at}: [${key}] tables are not part of a danlu config (keys are flat)`);
      continue;
    }
    const check = checkKeyValue(key, value);
    if (check.ok)
      layer[key] = source.base === null ? check.value : absolutePath(key, check.value, source.base);
    else if (Object.hasOwn(KOHYA_IGNORED_KEYS, key)) {
      problems.push(
        `${at}: ${key} is an sd-scripts setting danlu has no use for (${KOHYA_IGNORED_KEYS[key]})`,
      );
    } else if (!TRAIN_KEY_NAMES.includes(key as never)) {
      problems.push(`${at}: unknown key ${key}${didYouMean(key, TRAIN_KEY_NAMES)}`);
    } else problems.push(`${at}: ${check.problem}`);
  }
  if (problems.length > 0) {
    throw new DanluError(
      problems.length === 1
        ? (problems[0] ?? "")
        : `${source.name} has ${problems.length} problems:\n  ${problems.join("\n  ")}`,
      {
        code: "CONFIG_INVALID",
        hint: sawTable
          ? "an sd-scripts / kohya_ss config with sections is read with --kohya-config FILE"
          : "`danlu config show` lists every key with its type and default",
      },
    );
  }
  return layer as TrainConfigLayer;
}

/**
 * Reads a danlu config TOML: flat `key = value` lines with the keys of TRAIN_KEYS, each problem with its
 * line. Relative paths count from the file's folder, so a config beside its data works from any working
 * directory.
 */
export async function loadTrainConfigFile(path: string): Promise<TrainConfigLayer> {
  const { text, data } = await readTomlFile(path, "config file");
  return layerFromTable(data, {
    name: path,
    where: (key) => where(path, text, key),
    base: dirname(resolve(path)),
  });
}
