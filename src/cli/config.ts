import type { Command } from "commander";
import {
  formatValue,
  loadTrainConfigFile,
  TRAIN_KEYS,
  trainConfigDefaults,
  type TrainConfigLayer,
  type TrainKey,
} from "../config/index.ts";

interface ShowOptions {
  config?: string;
  json?: boolean;
}

interface KeyRow {
  key: TrainKey;
  value: unknown; // undefined: required and not set
  source: "default" | "file";
  type: string;
  description: string;
}

function rows(file: TrainConfigLayer): KeyRow[] {
  const defaults = trainConfigDefaults();
  return (Object.keys(TRAIN_KEYS) as TrainKey[]).map((key) => {
    const fromFile = Object.hasOwn(file, key);
    return {
      key,
      value: fromFile ? file[key] : defaults[key],
      source: fromFile ? "file" : "default",
      type: TRAIN_KEYS[key].typeLabel,
      description: TRAIN_KEYS[key].description,
    };
  });
}

function printTable(list: KeyRow[], configPath: string | undefined): void {
  const width = Math.max(...list.map((row) => row.key.length));
  const lines = [
    configPath
      ? `settings from ${configPath} (* = set in the file), others at their defaults:`
      : "settings and defaults:",
  ];
  for (const row of list) {
    const mark = row.source === "file" ? "*" : " ";
    lines.push(`${mark} ${row.key.padEnd(width)} = ${formatValue(row.value)}`);
    lines.push(`  ${" ".repeat(width)}   ${row.description} [${row.type}]`);
  }
  process.stdout.write(lines.join("\n") + "\n");
}

export function registerConfig(program: Command): void {
  const config = program.command("config").description("inspect training settings");
  config
    .command("show")
    .description(
      "print every training setting with its value (from --config, else its default), type and description",
    )
    .option("--config <file>", "a danlu config TOML to show the values of")
    .option(
      "--json",
      "print JSON: [{key, value, source, type, description}] (value null when required and unset)",
    )
    .action(async (options: ShowOptions) => {
      const file = options.config ? await loadTrainConfigFile(options.config) : {};
      const list = rows(file);
      if (options.json) {
        const json = list.map((row) => ({ ...row, value: row.value === undefined ? null : row.value }));
        process.stdout.write(JSON.stringify(json, null, 2) + "\n");
      } else printTable(list, options.config);
    });
}
