import { Command, CommanderError } from "commander";
import { DanluError, formatError } from "../errors.ts";
import { registerTrain } from "./train.ts";
import { registerModel } from "./model.ts";
import { registerLora } from "./lora.ts";
import { registerGrid } from "./grid.ts";
import { registerEval } from "./eval.ts";
import { registerDemo } from "./demo.ts";
import { registerConfig } from "./config.ts";
import { registerData } from "./data.ts";
import { registerTag } from "./tag.ts";
import { registerTags } from "./tags.ts";
import { registerModels } from "./models.ts";
import { registerGen } from "./gen.ts";
import { registerPortrait } from "./portrait.ts";
import { registerPresets } from "./presets.ts";
import { registerServe } from "./serve.ts";
import { registerUsers } from "./users.ts";
import { registerDoctor } from "./doctor.ts";

export function buildProgram(): Command {
  const program = new Command("danlu")
    .description(
      "丹炉 danlu: turn a folder of photos into a Stable Diffusion LoRA that loads in AUTOMATIC1111/Forge, ComfyUI and diffusers.",
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerData(program);
  registerTag(program);
  registerTags(program);
  registerTrain(program);
  registerGen(program);
  registerPortrait(program);
  registerModel(program);
  registerModels(program);
  registerLora(program);
  registerGrid(program);
  registerEval(program);
  registerConfig(program);
  registerPresets(program);
  registerServe(program);
  registerUsers(program);
  registerDemo(program);
  registerDoctor(program);
  return program;
}

/** The CLI entry: the only place that sets the process exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(formatError(error, process.env.DANLU_DEBUG === "1") + "\n");
    process.exitCode = error instanceof DanluError ? error.exitCode : 70;
  }
}
