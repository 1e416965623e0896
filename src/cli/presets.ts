import type { Command } from "commander";
import { formatPreset, formatPresetList } from "../config/presets/format.ts";
import { PRESETS, resolvePreset } from "../config/presets/index.ts";

/** `danlu presets list|show NAME`: the guides' settings behind `danlu train --preset NAME`. */
export function registerPresets(program: Command): void {
  const presets = program
    .command("presets")
    .description(
      "the training presets from the guides (danlu train --preset NAME) and the reason for each setting",
    );

  presets
    .command("list")
    .description("one line per preset")
    .option("--json", "print as JSON")
    .action((flags: { json?: boolean }) => {
      if (flags.json) {
        const list = Object.values(PRESETS).map((preset) => ({ name: preset.name, summary: preset.summary }));
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      process.stdout.write(formatPresetList() + "\n");
    });

  presets
    .command("show")
    .description("every setting of a preset with its value and the guide that says so")
    .argument("<name>", `one of: ${Object.keys(PRESETS).join(", ")}`)
    .option("--json", "print as JSON")
    .action((name: string, flags: { json?: boolean }) => {
      if (flags.json) {
        process.stdout.write(JSON.stringify(resolvePreset(name), null, 2) + "\n");
        return;
      }
      process.stdout.write(formatPreset(name) + "\n");
    });
}
