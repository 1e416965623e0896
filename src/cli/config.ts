import type { Command } from "commander";
import { formatValue, loadTrainConfigFile } from "../config/index.ts";
import { trainKeyTable, type KeyRow } from "../config/key-table.ts";

interface ShowOptions {
  config?: string;
  json?: boolean;
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
      const list = trainKeyTable(file);
      if (options.json) {
        const json = list.map((row) => ({ ...row, value: row.value === undefined ? null : row.value }));
        process.stdout.write(JSON.stringify(json, null, 2) + "\n");
      } else printTable(list, options.config);
    });
}
