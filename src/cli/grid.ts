import { type Command, InvalidArgumentError, Option } from "commander";
import type { EngineEvent } from "../engine/protocol.ts";
import { controlNetOptionList, controlNetOptions } from "./gen-controlnet.ts";
import { shownPath } from "./paths.ts";
import { CELL_DEFAULTS as C, DRAW_DEFAULTS, runGrid, type GridOptions } from "../evaluate/index.ts";

function int(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError("expected a whole number");
  return parsed;
}

function num(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError("expected a number");
  return parsed;
}

/** Options shared by `danlu grid` and `danlu eval`: how the engine runs. */
export function engineOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--device <device>", "where to draw")
        .choices(["auto", "cpu", "cuda"])
        .default(DRAW_DEFAULTS.device),
    )
    .addOption(
      new Option("--precision <p>", "weights while drawing (no: float32)")
        .choices(["no", "fp16", "bf16"])
        .default(DRAW_DEFAULTS.precision),
    )
    .option(
      "--clip-skip <n>",
      "CLIP layers to skip from the end (1 = none, 2 as A1111 anime models)",
      int,
      DRAW_DEFAULTS.clipSkip,
    )
    .option("--name <output-name>", "which run, when several share the output folder");
}

/** A counter on stderr while the engine draws; quiet under --json. */
export class ImageProgress {
  total = 0;
  private done = 0;
  constructor(private readonly quiet: boolean | undefined) {}

  event(event: EngineEvent): void {
    if (this.quiet) return;
    if (event.event === "phase") process.stderr.write(`engine: ${event.name.replace("_", " ")}\n`);
    if (event.event !== "sample") return;
    this.done += 1;
    const last = this.done === this.total;
    if (process.stderr.isTTY) {
      process.stderr.write(`\rimages ${this.done}/${this.total}${last ? "\n" : ""}`);
    } else if (last || this.done % 10 === 0) {
      process.stderr.write(`images ${this.done}/${this.total}\n`); // a log file gets whole lines
    }
  }
}

/** Where a cell's settings come from unless given: the run's first sample prompt (its line in prompts.txt). */
const FROM_RUN = "the run's first sample prompt";

type GridFlags = Omit<GridOptions, "target" | "onEvent" | "onPlan"> & {
  json?: boolean;
  controlnet: string[];
  controlPreprocessor: string[];
};

export function registerGrid(program: Command): void {
  const command = program
    .command("grid")
    .description(
      "an X/Y(/Z) grid of images over saved epochs, LoRA weight, prompt, seed, sampler or CFG, drawn into one labelled PNG (a run folder alone: every saved epoch x weights 0.6, 0.8, 1.0 on the run's sample prompts)",
    )
    .argument("<run-or-lora>", "a `danlu train` output folder, or one LoRA .safetensors (then --model)")
    .option(
      "--x <axis>",
      "KIND=VALUES: epoch=all|1,3,final|base, weight=0.6,1, seed=1,2, cfg=5,7, sampler=Euler a|DDIM, prompt=a|b",
    )
    .option("--y <axis>", "the second axis (same forms as --x)")
    .option("--z <axis>", "a third axis: one grid PNG per value")
    .option("--model <checkpoint>", "draw with this base model (default: the one the run trained on)")
    .option("--out <dir>", "where the grid and its cells go (default: {run}/grids/grid-NNN)")
    .option("--prompt <text>", "the prompt (default: the run's first sample prompt)")
    .option("--negative <text>", "negative prompt")
    .option("--seed <n>", `fixed seed of every cell (default: ${FROM_RUN}, else ${C.seed})`, int)
    .option("--steps <n>", `sampling steps (default: ${FROM_RUN}, else ${C.steps})`, int)
    .option("--cfg <scale>", `CFG scale (default: ${FROM_RUN}, else ${C.cfg})`, num)
    .option(
      "--sampler <name>",
      `A1111 sampler name, e.g. 'DPM++ 2M Karras' (default: ${FROM_RUN}, else ${C.sampler})`,
    )
    .option("--width <px>", `image width (default: ${FROM_RUN}, else ${C.width})`, int)
    .option("--height <px>", `image height (default: ${FROM_RUN}, else ${C.height})`, int)
    .option("--weight <w>", `LoRA weight when weight is not an axis (default ${C.weight})`, num)
    .option("--json", "print the result as JSON");
  for (const option of controlNetOptionList()) command.addOption(option); // every cell, as danlu gen
  engineOptions(command).action(async (target: string, flags: GridFlags) => {
    const progress = new ImageProgress(flags.json);
    const result = await runGrid({
      ...flags,
      controlnets: controlNetOptions(flags),
      target,
      onPlan: (cells) => (progress.total = cells),
      onEvent: (event) => progress.event(event),
    });
    if (result.black.length > 0) {
      process.stderr.write(
        `warning: ${result.black.length} of ${result.plan.cells.length} images came out black (the model produced NaN values), e.g. ${result.black[0]}\n`,
      );
    }
    if (flags.json) {
      const cells = result.plan.cells.map((cell) => ({
        ...cell,
        image: result.images.get(cell.prefix)?.[0] ?? null,
      }));
      process.stdout.write(JSON.stringify({ dir: result.dir, grids: result.grids, cells }, null, 2) + "\n");
      return;
    }
    process.stdout.write(`${result.plan.cells.length} images in ${shownPath(result.dir)}/cells\n`);
    for (const grid of result.grids) process.stdout.write(`grid: ${grid}\n`);
  });
}
