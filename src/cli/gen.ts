import { InvalidArgumentError, Option, type Command } from "commander";
import type { EngineEvent } from "../engine/protocol.ts";
import { ARCHS } from "../engine/spec.ts";
import { buildGenerateSpec, GEN_DEFAULTS as D, runGenerate, type GenOptions } from "../generate/gen.ts";
import { A1111_SAMPLERS } from "../generate/samplers.ts";

const HELP = `
The prompt uses the AUTOMATIC1111 syntax, so prompts copy over from A1111/Forge/Civitai as they are:
  (word)  x1.1 attention      ((word))  x1.21      [word]  /1.1      (word:1.3)  an exact weight
  \\( \\) \\[ \\]  literal brackets (e.g. "artist \\(style\\)")
  BREAK          start a new 75-token chunk (prompts longer than 75 tokens are chunked anyway)
  <lora:NAME:0.8>          apply NAME.safetensors from --lora-dir (or beside a --lora file) at 0.8
  <lora:NAME:0.6:1.0>      text encoder 0.6, UNet 1.0 (also <lyco:...>; LoHa/LoKr/IA3/DoRA files work)
  an embedding's file name (from --embeddings DIR) used as a word in the prompt
  A1111's prompt editing [from:to:when] and alternation [a|b] are refused (an error), not misread.

Samplers (A1111 names): ${A1111_SAMPLERS.join(", ")}.

Images go to OUT as NNNNN-SEED.png (never overwritten) with the A1111 "parameters" text, so A1111's
PNG Info and Civitai show the prompt, sampler, seed, model and LoRA hashes. Seeds: image i of the run
gets seed+i, so one image can be remade alone with --seed.

Examples:
  danlu gen --model sd15.safetensors --prompt "photo of alice, (smiling:1.2) <lora:alice:0.8>" \\
      --lora-dir out --negative "blurry, lowres" --seed 42 --out gen
  danlu gen --model sdxl.safetensors --lora out/alice-000008.safetensors:0.7 --prompt "alice on a beach" \\
      --width 1024 --height 1024 --sampler "DPM++ SDE Karras" --steps 25 --out gen
  danlu gen --model sd15.safetensors --init-image photo.jpg --strength 0.5 --prompt "oil painting" --out gen`;

function number(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new InvalidArgumentError("expected a number");
  return value;
}

function integer(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min)
      throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return value;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// commander names a flag's property after the flag: --lora -> lora, --embeddings -> embeddings
type GenFlags = Omit<GenOptions, "embeddingsDir" | "loras"> & {
  lora: string[];
  embeddings?: string;
  json: boolean;
};

/** `danlu gen`: txt2img / img2img with LoRAs and the A1111 prompt syntax. */
export function registerGen(program: Command): void {
  program
    .command("gen")
    .description("generate images with a base model, LoRAs and an A1111-style prompt (txt2img / img2img)")
    .requiredOption("--model <ckpt>", "base checkpoint (.safetensors/.ckpt) or diffusers folder")
    .requiredOption("--prompt <text>", "the prompt (A1111 syntax, see below)")
    .requiredOption("--out <dir>", "folder for the images")
    .option("--negative <text>", "negative prompt", D.negative)
    .option(
      "--lora <file[:weight]>",
      "a LoRA/LyCORIS file to apply (repeatable; weight default 1)",
      collect,
      [],
    )
    .option("--lora-dir <dir>", "where <lora:NAME:w> in the prompt finds NAME.safetensors")
    .option("--embeddings <dir>", "folder of textual-inversion embeddings, used by file name in the prompt")
    .option("--sampler <name>", "A1111 sampler name", D.sampler)
    .option("--steps <n>", "sampling steps", integer(1), D.steps)
    .option("--cfg <scale>", "CFG scale", number, D.cfg)
    .option("--width <px>", "image width (multiple of 8)", integer(8), D.width)
    .option("--height <px>", "image height (multiple of 8)", integer(8), D.height)
    .option("--seed <n>", "seed of the first image (-1: random)", integer(-1), D.seed)
    .option("--batch-count <n>", "how many batches", integer(1), D.batchCount)
    .option("--batch-size <n>", "images per batch (drawn together)", integer(1), D.batchSize)
    .option(
      "--clip-skip <n>",
      "text encoder layers to skip from the end (2 for most anime models)",
      integer(1),
      D.clipSkip,
    )
    .option("--init-image <file>", "img2img: start from this image (resized to --width x --height)")
    .option(
      "--strength <s>",
      "img2img denoising strength: 0 keeps the image, 1 replaces it",
      number,
      D.strength,
    )
    .addOption(new Option("--arch <arch>", "architecture (default: detected)").choices(ARCHS))
    .addOption(
      new Option("--device <device>", "where to run").choices(["auto", "cpu", "cuda"]).default(D.device),
    )
    .addOption(
      new Option("--precision <p>", "weights dtype (no = float32)")
        .choices(["no", "fp16", "bf16"])
        .default(D.precision),
    )
    .option("--json", "print the engine's result (images, parameters, LoRA matches) as JSON", false)
    .addHelpText("after", HELP)
    .action(async (flags: GenFlags) => genAction(flags));
}

async function genAction(flags: GenFlags): Promise<void> {
  const spec = buildGenerateSpec({ ...flags, loras: flags.lora, embeddingsDir: flags.embeddings });
  const job = spec.jobs[0]!;
  const total = job.batch_count * job.batch_size;
  const say = (line: string) => process.stderr.write(line + "\n");
  if (!flags.json) say(`generating ${total} image(s), ${job.sampler}, ${job.steps} steps, seed ${job.seed}`);
  const onEvent = (event: EngineEvent) => {
    if (event.event === "log" && (event.level !== "debug" || process.env.DANLU_DEBUG === "1")) {
      say(`${event.level === "info" ? "" : event.level + ": "}${event.message}`);
    }
    if (event.event === "sample" && !flags.json) process.stdout.write(`${event.path}\n`);
  };
  const result = await runGenerate(spec, onEvent);
  if (flags.json) process.stdout.write(JSON.stringify(result.data, null, 2) + "\n");
  else say(`done: ${result.outputs.length} image(s) in ${result.elapsedS.toFixed(1)} s`);
}
