import { Option, type Command } from "commander";
import { DanluError } from "../errors.ts";
import { absolutePath, checkKeyValue } from "./check-value.ts";
import type { KeyDef } from "./key-kinds.ts";
import { TRAIN_KEYS, type TrainConfigLayer, type TrainKey } from "./schema.ts";

export const TRAIN_OPTIONS_HEADING =
  "Training settings (flags override --config; `danlu config show` lists them):";

export function flagOf(key: string): string {
  return `--${key.replaceAll("_", "-")}`;
}

/** Commander's attribute name for a flag: --network-dim -> networkDim. */
function attributeOf(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** How a default reads in help and `config show`. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "required";
  if (value === null) return "unset";
  if (Array.isArray(value)) return value.length === 0 ? "[]" : JSON.stringify(value);
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

function placeholder(def: KeyDef): string {
  const first = def.typeLabel.split(" ")[0] ?? "value";
  const simple = !def.typeLabel.includes("|") && ["int", "number", "path", "string"].includes(first);
  return simple ? first : "value";
}

function switchDefault(key: string, value: unknown): string {
  const flag = flagOf(key).slice(2);
  if (value === true) return `default: on; --no-${flag} turns it off`;
  if (value === null) return `default: detect; --no-${flag} says no`;
  return "default: off";
}

/** "description (type, default: x)": what --help prints for a key. */
export function helpText(key: string, def: KeyDef): string {
  if (def.flag === "switch") return `${def.description} (${switchDefault(key, def.default)})`;
  const fallback = def.default === undefined ? "required" : `default: ${formatValue(def.default)}`;
  return `${def.description} (${def.typeLabel}, ${fallback})`;
}

/** Adds every training key as a kebab-case flag, help generated from the schema. No commander defaults:
 * a flag left out must not override the config file. */
export function addTrainConfigOptions(command: Command): Command {
  for (const [key, def] of Object.entries(TRAIN_KEYS) as [TrainKey, KeyDef][]) {
    const flag = flagOf(key);
    if (def.flag === "switch") {
      command.addOption(new Option(flag, helpText(key, def)).helpGroup(TRAIN_OPTIONS_HEADING));
      command.addOption(new Option(`--no-${flag.slice(2)}`).hideHelp());
    } else {
      const arg = def.flag === "list" ? `<${placeholder(def)}...>` : `<${placeholder(def)}>`;
      command.addOption(new Option(`${flag} ${arg}`, helpText(key, def)).helpGroup(TRAIN_OPTIONS_HEADING));
    }
  }
  return command;
}

function valueFromFlag(def: KeyDef, raw: unknown): unknown {
  if (def.flag === "switch") return raw;
  if (def.flag === "list") return (raw as string[]).map((text) => String(def.fromText(text)));
  return def.fromText(String(raw));
}

/** The layer the flags set: only keys given on the command line, each checked (relative paths against the
 * working directory); errors name the flag. */
export function configFromOptions(opts: Record<string, unknown>): TrainConfigLayer {
  const layer: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(TRAIN_KEYS) as [TrainKey, KeyDef][]) {
    const raw = opts[attributeOf(key)];
    if (raw === undefined) continue;
    const check = checkKeyValue(key, valueFromFlag(def, raw));
    if (!check.ok) {
      throw new DanluError(`${flagOf(key)}: ${check.problem}`, {
        code: "CONFIG_INVALID",
        hint: `see \`danlu train --help\` for ${flagOf(key)}`,
      });
    }
    layer[key] = absolutePath(key, check.value, process.cwd());
  }
  return layer as TrainConfigLayer;
}
