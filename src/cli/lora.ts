import type { Command } from "commander";
import { formatBlockNorms, formatLoraInfo, inspectLora } from "../lora/index.ts";
import { registerLoraConvert } from "./lora-convert.ts";
import { registerLoraTools } from "./lora-tools.ts";

interface InfoOptions {
  json?: boolean;
  modules: boolean;
  hash: boolean;
  norms: boolean;
}

export function registerLora(program: Command): void {
  const lora = program
    .command("lora")
    .description("inspect, convert, merge, resize, bake and extract LoRA files");
  lora
    .command("info")
    .description(
      "what a LoRA file holds: architecture, network, dim/alpha, training metadata, hash check, modules",
    )
    .argument("<file>", "a .safetensors LoRA")
    .option("--json", "print the facts as JSON ({info, summary})")
    .option("--no-modules", "leave out the per-module list")
    .option(
      "--no-hash",
      "skip the sshs_model_hash check (it reads the whole file; a mismatch exits with code 3)",
    )
    .option("--no-norms", "skip the per-block weight norms (they read every weight once)")
    .action(async (file: string, options: InfoOptions) => {
      const { info, summary, blockNorms } = await inspectLora(file, options);
      if (options.json) {
        const modules = options.modules ? info.modules : undefined;
        process.stdout.write(
          JSON.stringify({ info: { ...info, modules }, summary, blockNorms }, null, 2) + "\n",
        );
        return;
      }
      const text = formatLoraInfo(info, summary, options.modules);
      process.stdout.write(text + (blockNorms ? `\n${formatBlockNorms(blockNorms)}` : "") + "\n");
      if (info.hash.status === "mismatch") process.exitCode = 3;
    });
  registerLoraConvert(lora);
  registerLoraTools(lora);
}
