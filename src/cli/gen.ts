import { InvalidArgumentError, Option, type Command } from "commander";
import type { EngineEvent } from "../engine/protocol.ts";
import { DanluError } from "../errors.ts";
import { ARCHS } from "../engine/spec.ts";
import { MASKED_CONTENT } from "../engine/spec-generate.ts";
import {
  buildGenerateSpec,
  GEN_DEFAULTS as D,
  HIRES_DEFAULTS as HR,
  INPAINT_DEFAULTS as IN,
  runGenerate,
  type GenOptions,
  type HiresOptions,
  type InpaintOptions,
} from "../generate/gen.ts";
import {
  DETAIL_DEFAULTS as FD,
  DETAIL_MODEL,
  detailFaces,
  type DetailOptions,
} from "../generate/detailer.ts";
import { A1111_SAMPLERS } from "../generate/samplers.ts";
import {
  CONTROLNET_EXAMPLE,
  CONTROLNET_HELP,
  CONTROLNET_OPTIONS,
  controlNetOptions,
} from "./gen-controlnet.ts";
import { HIRES_UPSCALERS } from "../generate/upscalers.ts";

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

Inpainting (--init-image with --mask, as A1111's inpaint tab): white in the mask is repainted, black kept;
the mask has the init image's size. The result is pasted over the original through the blurred mask, so
pixels outside it are the original's exactly. --inpaint-area masked repaints only the mask's box (plus
--mask-padding, grown to the --width:--height aspect) at --width x --height and keeps the init image's
size. Inpainting checkpoints (9-channel UNet, e.g. sd-v1-5-inpainting) and ordinary ones both work.

Hires fix (txt2img, as A1111's): draw at --width x --height, upscale by --hr-scale (latent or image
upscaler), then --hr-steps of img2img at --hr-denoising. Upscalers: ${HIRES_UPSCALERS.join(", ")}.
The PNG text says "Size: " the first pass's size and "Hires upscale: " the factor, as A1111 writes it.
${CONTROLNET_HELP}

Face detailing (--detail-faces, as A1111's ADetailer extension): after drawing, BlazeFace finds the faces
in each image; each face's box (grown by --detail-dilate) is repainted as inpainting "only masked" at
--detail-size with --detail-denoising and its own prompt, then pasted back through the blurred mask, one
face after another. The image keeps its name; its PNG text gains ADetailer's keys ("ADetailer model:
${DETAIL_MODEL}, ..."). An image without a face is left as it is ("no face found").

Images go to OUT as NNNNN-SEED.png (never overwritten) with the A1111 "parameters" text, so A1111's
PNG Info and Civitai show the prompt, sampler, seed, model and LoRA hashes. Seeds: image i of the run
gets seed+i, so one image can be remade alone with --seed.

Examples:
  danlu gen --model sd15.safetensors --prompt "photo of alice, (smiling:1.2) <lora:alice:0.8>" \\
      --lora-dir out --negative "blurry, lowres" --seed 42 --out gen
  danlu gen --model sdxl.safetensors --lora out/alice-000008.safetensors:0.7 --prompt "alice on a beach" \\
      --width 1024 --height 1024 --sampler "DPM++ SDE Karras" --steps 25 --out gen
  danlu gen --model sd15.safetensors --init-image photo.jpg --strength 0.5 --prompt "oil painting" --out gen
  danlu gen --model sd15.safetensors --init-image photo.png --mask mask.png --inpaint-area masked \\
      --prompt "red scarf" --out gen
  danlu gen --model sd15.safetensors --prompt "a castle" --hr-scale 2 --hr-steps 10 --out gen
${CONTROLNET_EXAMPLE}
  danlu gen --model sd15.safetensors --prompt "photo of alice <lora:alice:0.8>" --lora-dir out \\
      --detail-faces --detail-prompt "detailed face of alice, sharp eyes" --out gen`;

function number(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new InvalidArgumentError("expected a number");
  return value;
}

/** A commander parser for a whole number of at least `min` (also `danlu portrait`'s). */
export function integer(min: number) {
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
type GenFlags = Omit<GenOptions, "embeddingsDir" | "loras" | "inpaint" | "hires"> & {
  lora: string[];
  controlnet: string[];
  controlPreprocessor: string[];
  embeddings?: string;
  json: boolean;
  mask?: string;
  maskBlur?: number;
  maskedContent?: InpaintOptions["maskedContent"];
  inpaintArea?: InpaintOptions["area"];
  maskPadding?: number;
  hrScale?: number;
  hrSteps?: number;
  hrDenoising?: number;
  hrUpscaler?: string;
  detailFaces?: boolean;
  detailPrompt?: string;
  detailNegative?: string;
  detailConfidence?: number;
  detailDilate?: number;
  detailMaskBlur?: number;
  detailDenoising?: number;
  detailPadding?: number;
  detailSteps?: number;
  detailSize?: number;
};

/** The flags of one feature given without the flag that turns it on: an error, not silently ignored. */
function refuseStray(flags: GenFlags, on: "mask" | "hrScale", names: Record<string, unknown>): void {
  const given = Object.entries(names).filter(([, value]) => value !== undefined);
  if (flags[on] !== undefined || given.length === 0) return;
  const switchFlag = on === "mask" ? "--mask" : "--hr-scale";
  throw new DanluError(`${given.map(([name]) => name).join(", ")} given without ${switchFlag}.`, {
    code: "BAD_ARGUMENT",
    exitCode: 2,
    hint: `Add ${switchFlag}, or leave ${given.length === 1 ? "it" : "them"} out.`,
  });
}

function inpaintOptions(flags: GenFlags): InpaintOptions | undefined {
  refuseStray(flags, "mask", {
    "--mask-blur": flags.maskBlur,
    "--masked-content": flags.maskedContent,
    "--inpaint-area": flags.inpaintArea,
    "--mask-padding": flags.maskPadding,
  });
  if (flags.mask === undefined) return undefined;
  return {
    mask: flags.mask,
    ...(flags.maskBlur !== undefined ? { maskBlur: flags.maskBlur } : {}),
    ...(flags.maskedContent ? { maskedContent: flags.maskedContent } : {}),
    ...(flags.inpaintArea ? { area: flags.inpaintArea } : {}),
    ...(flags.maskPadding !== undefined ? { padding: flags.maskPadding } : {}),
  };
}

function hiresOptions(flags: GenFlags): HiresOptions | undefined {
  refuseStray(flags, "hrScale", {
    "--hr-steps": flags.hrSteps,
    "--hr-denoising": flags.hrDenoising,
    "--hr-upscaler": flags.hrUpscaler,
  });
  if (flags.hrScale === undefined) return undefined;
  return {
    scale: flags.hrScale,
    ...(flags.hrSteps !== undefined ? { steps: flags.hrSteps } : {}),
    ...(flags.hrDenoising !== undefined ? { denoising: flags.hrDenoising } : {}),
    ...(flags.hrUpscaler ? { upscaler: flags.hrUpscaler } : {}),
  };
}

function detailOptions(flags: GenFlags): DetailOptions | undefined {
  const given = Object.entries({
    "--detail-prompt": flags.detailPrompt,
    "--detail-negative": flags.detailNegative,
    "--detail-confidence": flags.detailConfidence,
    "--detail-dilate": flags.detailDilate,
    "--detail-mask-blur": flags.detailMaskBlur,
    "--detail-denoising": flags.detailDenoising,
    "--detail-padding": flags.detailPadding,
    "--detail-steps": flags.detailSteps,
    "--detail-size": flags.detailSize,
  }).filter(([, value]) => value !== undefined);
  if (!flags.detailFaces && given.length > 0) {
    throw new DanluError(`${given.map(([name]) => name).join(", ")} given without --detail-faces.`, {
      code: "BAD_ARGUMENT",
      exitCode: 2,
      hint: "Add --detail-faces, or leave them out.",
    });
  }
  if (!flags.detailFaces) return undefined;
  const o: DetailOptions = {};
  if (flags.detailPrompt !== undefined) o.prompt = flags.detailPrompt;
  if (flags.detailNegative !== undefined) o.negative = flags.detailNegative;
  if (flags.detailConfidence !== undefined) o.confidence = flags.detailConfidence;
  if (flags.detailDilate !== undefined) o.dilateErode = flags.detailDilate;
  if (flags.detailMaskBlur !== undefined) o.maskBlur = flags.detailMaskBlur;
  if (flags.detailDenoising !== undefined) o.denoising = flags.detailDenoising;
  if (flags.detailPadding !== undefined) o.padding = flags.detailPadding;
  if (flags.detailSteps !== undefined) o.steps = flags.detailSteps;
  if (flags.detailSize !== undefined) o.size = flags.detailSize;
  return o;
}

/** `danlu gen`: txt2img (hires fix), img2img and inpainting with LoRAs and the A1111 prompt syntax. */
export function registerGen(program: Command): void {
  program
    .command("gen")
    .description(
      "generate images with a base model, LoRAs and an A1111-style prompt (txt2img, hires fix, img2img, inpaint)",
    )
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
    .option("--mask <file>", "inpaint: white = repaint, black = keep (the --init-image's size)")
    .option("--mask-blur <px>", `inpaint: blur of the mask's edge (default: ${IN.maskBlur})`, integer(0))
    .addOption(
      new Option(
        "--masked-content <what>",
        `inpaint: what the masked area starts from (default: ${IN.maskedContent})`,
      ).choices(MASKED_CONTENT),
    )
    .addOption(
      new Option(
        "--inpaint-area <area>",
        `inpaint: whole = the picture at --width x --height; masked = only the mask's box (default: ${IN.area})`,
      ).choices(["whole", "masked"]),
    )
    .option(
      "--mask-padding <px>",
      `inpaint, area masked: pixels around the mask's box (default: ${IN.padding})`,
      integer(0),
    )
    .option("--hr-scale <x>", "hires fix (txt2img): upscale the first pass by x, then a second pass", number)
    .option("--hr-steps <n>", `hires fix: second-pass steps, 0 = --steps (default: ${HR.steps})`, integer(0))
    .option(
      "--hr-denoising <s>",
      `hires fix: second-pass denoising strength (default: ${HR.denoising})`,
      number,
    )
    .option("--hr-upscaler <name>", `hires fix: an A1111 upscaler name (default: ${HR.upscaler})`)
    .addOption(CONTROLNET_OPTIONS[0]!)
    .addOption(CONTROLNET_OPTIONS[1]!)
    .option("--detail-faces", `face detailing (ADetailer): repaint each face ${DETAIL_MODEL} finds`)
    .option("--detail-prompt <text>", "face detailing: the face prompt (default: the image's prompt)")
    .option("--detail-negative <text>", "face detailing: the face negative (default: the image's)")
    .option(
      "--detail-confidence <s>",
      `face detailing: detector score a face needs, 0-1 (default: ${FD.confidence})`,
      number,
    )
    .option(
      "--detail-dilate <px>",
      `face detailing: grow (negative: shrink) the face box (default: ${FD.dilateErode})`,
      number,
    )
    .option("--detail-mask-blur <px>", `face detailing: mask blur (default: ${FD.maskBlur})`, integer(0))
    .option("--detail-denoising <s>", `face detailing: denoising strength (default: ${FD.denoising})`, number)
    .option(
      "--detail-padding <px>",
      `face detailing: pixels around the face box (default: ${FD.padding})`,
      integer(0),
    )
    .option("--detail-steps <n>", "face detailing: sampling steps (default: --steps)", integer(1))
    .option(
      "--detail-size <px>",
      "face detailing: working resolution, a square (default: 512; SDXL 1024)",
      integer(64),
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
  const inpaint = inpaintOptions(flags);
  const hires = hiresOptions(flags);
  const detail = detailOptions(flags);
  const spec = buildGenerateSpec({
    ...flags,
    loras: flags.lora,
    controlnets: controlNetOptions(flags),
    embeddingsDir: flags.embeddings,
    ...(inpaint ? { inpaint } : {}),
    ...(hires ? { hires } : {}),
  });
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
  if (detail) await detailResult(spec, result.data, detail, { onEvent, say: flags.json ? () => {} : say });
  if (flags.json) process.stdout.write(JSON.stringify(result.data, null, 2) + "\n");
  else say(`done: ${result.outputs.length} image(s) in ${result.elapsedS.toFixed(1)} s`);
}

type ResultImage = { path: string; job: number; seed: number; parameters: string };

/** --detail-faces: the face pass over every image; the result's parameters follow the files. */
async function detailResult(
  spec: Parameters<typeof detailFaces>[0],
  data: Record<string, unknown> | null,
  detail: DetailOptions,
  run: { onEvent: (event: EngineEvent) => void; say: (line: string) => void },
): Promise<void> {
  const images = (data?.images ?? []) as ResultImage[];
  const onEvent = (event: EngineEvent) => {
    if (event.event !== "sample") run.onEvent(event); // the files keep their names: listed once
  };
  const detailed = await detailFaces(spec, images, detail, { onEvent, onLog: run.say });
  for (const [i, d] of detailed.entries()) {
    const image = images[i];
    if (image && d.parameters !== null) image.parameters = d.parameters;
  }
}
