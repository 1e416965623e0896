import type { Command } from "commander";
import { DEMO_TRIGGER, demoPaths, runDemo } from "../demo/index.ts";
import { ProgressRenderer } from "../training/progress.ts";

const AFTER = `
The demo builds a tiny random-weight model with the real SD1.5 architecture, lays out the bundled
public-domain photos as a kohya train_data_dir with captions and the trigger word "${DEMO_TRIGGER}",
and trains a LoRA for 2 epochs on the CPU, saving both epochs and sample images. A tiny random model
draws noise: the demo shows the pipeline, not quality.`;

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "run the whole pipeline on the bundled sample photos and a tiny model (a few minutes on a CPU)",
    )
    .option("--out <dir>", "where the demo writes everything", "demo-output")
    .addHelpText("after", AFTER)
    .action(async (options: { out: string }) => {
      const renderer = new ProgressRenderer({ totalEpochs: 2 });
      const paths = demoPaths(options.out);
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      const result = await runDemo(options.out, {
        signal: controller.signal,
        onNote: (text) => renderer.note(text),
        onPlan: (prepared) => renderer.note(prepared.report),
        onEvent: (event) => {
          renderer.update(event);
          if (event.event === "checkpoint") renderer.note(`saved ${event.path}`);
          if (event.event === "sample") renderer.note(`sample ${event.path}`);
        },
      });
      renderer.finish();
      if (result.status === "cancelled") {
        process.exitCode = 130;
        return;
      }
      const loras = result.outputs.filter((file) => file.endsWith(".safetensors"));
      process.stdout.write(
        [
          "",
          `Done: ${result.steps} training steps in ${result.elapsedS.toFixed(1)} s.`,
          `  model (tiny, random weights): ${paths.model}`,
          `  dataset (kohya layout):       ${paths.trainDataDir}`,
          ...loras.map((file) => `  LoRA:                         ${file}`),
          `  samples:                      ${paths.output}/sample/`,
          `  logs and loss history:        ${paths.output}/logs/${DEMO_TRIGGER}/`,
          "",
          "The model is tiny and random, so the samples are noise: this run shows the pipeline, not quality.",
          "Look at what it made, then do the same with a real checkpoint (e.g. SD1.5 from Civitai or Hugging Face):",
          `  npx danlu lora info ${loras.at(-1) ?? "<lora>"}`,
          `  npx danlu grid ${paths.output}        (every epoch x LoRA weights 0.6/0.8/1.0, one labelled PNG)`,
          `  npx danlu eval ${paths.output}        (scores per epoch and a report that recommends one)`,
          "  npx danlu model info path/to/model.safetensors",
          "  npx danlu train --pretrained-model-name-or-path path/to/model.safetensors \\",
          "      --train-data-dir my-train --output-dir my-out --output-name my-lora \\",
          "      --resolution 512 --network-dim 32 --network-alpha 16 --max-train-epochs 10 --mixed-precision bf16",
          "  (npx danlu train --help lists every setting; README.md has the full walk-through)",
        ].join("\n") + "\n",
      );
    });
}
