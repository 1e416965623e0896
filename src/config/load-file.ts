import { DanluError } from "../errors.ts";
import { dirname, resolve } from "node:path";
import { absolutePath, checkKeyValue, readTomlFile, where } from "./check-value.ts";
import { didYouMean } from "./did-you-mean.ts";
import { KOHYA_IGNORED_KEYS } from "./kohya-keys.ts";
import { TRAIN_KEY_NAMES, type TrainConfigLayer } from "./schema.ts";

function isTable(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Reads a danlu config TOML: flat `key = value` lines with the keys of TRAIN_KEYS. Every problem in the
 * file (unknown key, wrong type, a [section]) is reported at once, each with its line. Relative paths
 * count from the file's folder, so a config beside its data works from any working directory.
 */
export async function loadTrainConfigFile(path: string): Promise<TrainConfigLayer> {
  const { text, data } = await readTomlFile(path, "config file");
  const layer: Record<string, unknown> = {};
  const problems: string[] = [];
  let sawTable = false;
  for (const [key, value] of Object.entries(data)) {
    if (isTable(value)) {
      sawTable = true;
      problems.push(
        `${where(path, text, key)}: [${key}] tables are not part of a danlu config (keys are flat)`,
      );
      continue;
    }
    const check = checkKeyValue(key, value);
    if (check.ok) layer[key] = absolutePath(key, check.value, dirname(resolve(path)));
    else if (Object.hasOwn(KOHYA_IGNORED_KEYS, key)) {
      problems.push(
        `${where(path, text, key)}: ${key} is an sd-scripts setting danlu has no use for (${KOHYA_IGNORED_KEYS[key]})`,
      );
    } else if (!TRAIN_KEY_NAMES.includes(key as never)) {
      problems.push(`${where(path, text, key)}: unknown key ${key}${didYouMean(key, TRAIN_KEY_NAMES)}`);
    } else problems.push(`${where(path, text, key)}: ${check.problem}`);
  }
  if (problems.length > 0) {
    throw new DanluError(
      problems.length === 1
        ? (problems[0] ?? "")
        : `${path} has ${problems.length} problems:\n  ${problems.join("\n  ")}`,
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
