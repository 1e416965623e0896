import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { DanluError } from "../errors.ts";
import type { EngineCommand, EngineDone, SpecFor } from "../engine/driver.ts";
import { runEngineToDone, shortCommandOutput } from "../engine/run-to-done.ts";
import { ARCHS, type Arch } from "../engine/spec.ts";

const TINY_HELP = `
A tiny model has the real architecture (the same module names, key names and file layouts as the
full SD1.5 / SD2 / SDXL checkpoints) but very few channels and random weights: a few MB, loaded in
a second, trained on a CPU. It draws noise. It exists to test the whole pipeline (training, saving,
loading the LoRA elsewhere), for benchmarks of the code paths, and for \`npm run demo\`.

Examples:
  danlu model make-tiny --arch sd15 --out models/tiny-sd15                       (diffusers folder)
  danlu model make-tiny --arch sdxl --out models/tiny-sdxl.safetensors --single-file
  danlu model make-tiny --arch sd15 --inpainting --out models/tiny-sd15-inpainting   (9-channel UNet)
  danlu model make-tiny --arch sd15 --controlnet --single-file --out models/tiny-control_sd15_openpose.safetensors
      (a ControlNet for the tiny SD1.5 UNet; --single-file: A1111 keys, else a diffusers folder)`;

const INFO_HELP = `
FILE is a single-file checkpoint (.safetensors, as downloaded from Civitai or Hugging Face; or
.ckpt, which is loaded only with torch's safe loader, weights_only=True, so a pickle cannot run
code) or a diffusers folder (with model_index.json). Supported: SD1.x, SD2.x (including 768-v)
and SDXL base. A file that is truncated, is not a checkpoint, or has another architecture gets an
error that says so.`;

/** `danlu model`: make tiny test models and tell what a checkpoint is. */
export function registerModel(program: Command): void {
  const model = program.command("model").description("make tiny test models; inspect checkpoints");
  model
    .command("make-tiny")
    .description("write a tiny random-weight model with a real architecture (for tests and the demo)")
    .addOption(new Option("--arch <arch>", "architecture").choices(ARCHS).makeOptionMandatory())
    .requiredOption("--out <path>", "a folder (diffusers layout), or a .safetensors file with --single-file")
    .option(
      "--single-file",
      "write one .safetensors checkpoint (original LDM key names) instead of a folder",
      false,
    )
    .option(
      "--inpainting",
      "an inpainting checkpoint: the UNet takes 9 input channels (latents, mask, masked image)",
      false,
    )
    .option("--controlnet", "a tiny ControlNet for the tiny UNet of --arch instead of a model", false)
    .option("--seed <n>", "random seed of the weights (same seed, same file)", integer, 0)
    .option("--json", "print the engine's result as JSON", false)
    .addHelpText("after", TINY_HELP)
    .action(async (options: MakeTinyFlags) => {
      const out = resolve(options.out);
      if (options.singleFile && !out.endsWith(".safetensors")) {
        throw new DanluError(`--out ${options.out}: a single-file model is one .safetensors file.`, {
          code: "BAD_ARGUMENT",
          hint: `Use --out ${options.out}.safetensors, or leave out --single-file to write a diffusers folder.`,
        });
      }
      const spec = {
        version: 1 as const,
        arch: options.arch,
        out,
        single_file: options.singleFile,
        inpainting: options.inpainting,
        seed: options.seed,
        controlnet: options.controlnet,
      };
      const result = await runForCli("make-tiny", spec);
      if (options.json) return print(JSON.stringify({ outputs: result.outputs, data: result.data }, null, 2));
      const layout = options.singleFile ? "single file" : "diffusers folder";
      const kind = options.inpainting ? " inpainting" : options.controlnet ? " ControlNet" : "";
      print(`wrote a tiny ${options.arch}${kind} model (${layout}, seed ${options.seed}): ${out}`);
      print(
        `  ${plural(result.outputs.length, "file")}, ${formatBytes(totalBytes(result.outputs))}; random weights: it draws noise.`,
      );
    });

  model
    .command("info")
    .description("tell what a checkpoint is: architecture, prediction type, dtype, size, format")
    .argument("<file>", "a .safetensors / .ckpt checkpoint or a diffusers folder")
    .option("--json", "print the engine's answer as JSON", false)
    .addHelpText("after", INFO_HELP)
    .action(async (file: string, options: { json: boolean }) => {
      const path = resolve(file);
      if (!existsSync(path)) {
        throw new DanluError(`No such file or folder: ${path}`, {
          code: "FILE_NOT_FOUND",
          hint: "Give the path of a checkpoint file or a diffusers model folder.",
        });
      }
      const result = await runForCli("info", { version: 1, path });
      print(options.json ? JSON.stringify(result.data, null, 2) : formatModelInfo(result.data ?? {}));
    });
}

interface MakeTinyFlags {
  arch: Arch;
  out: string;
  singleFile: boolean;
  inpainting: boolean;
  controlnet: boolean;
  seed: number;
  json: boolean;
}

function integer(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError("expected a whole number");
  return value;
}

/** Runs a short engine command: warnings to stderr, the engine's stderr only with DANLU_DEBUG=1. */
function runForCli<C extends EngineCommand>(command: C, spec: SpecFor<C>): Promise<EngineDone> {
  return runEngineToDone(command, spec, shortCommandOutput());
}

function totalBytes(paths: string[]): number {
  return paths.reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}

/** 1000-based, as file managers and model sites show sizes: "2.13 GB", "4.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${bytes} bytes`;
  return `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

const ARCH_NAMES: Record<string, string> = {
  sd15: "SD1.x (sd15)",
  sd2: "SD2.x (sd2)",
  sdxl: "SDXL base (sdxl)",
};
const FORMAT_NAMES: Record<string, string> = {
  single_file: "single-file .safetensors",
  ckpt: ".ckpt (read with torch's weights-only loader)",
  diffusers: "diffusers folder",
};
const PREDICTION_NAMES: Record<string, string> = { epsilon: "epsilon (noise)", v_prediction: "v-prediction" };

/** Parameter counts as people say them: "860M", "2.57B". */
export function formatCount(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(2)}B`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(count >= 1e8 ? 0 : 1)}M`;
  if (count >= 1e3) return `${(count / 1e3).toFixed(1)}K`;
  return String(count);
}

/** "4.2M (unet 2.2M, text_encoder 1.7M, vae 334.4K)" from component -> count. */
function formatParameters(parameters: Record<string, unknown>): string {
  const counts = Object.entries(parameters).filter(
    (entry): entry is [string, number] => typeof entry[1] === "number",
  );
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  return `${formatCount(total)} (${counts.map(([name, n]) => `${name} ${formatCount(n)}`).join(", ")})`;
}

/** "float16", or "float16 (1100 tensors), float32 (30)" when the file mixes dtypes. */
function formatDtypes(dtype: unknown, dtypes: unknown): string {
  const counts = dtypes && typeof dtypes === "object" ? Object.entries(dtypes) : [];
  if (counts.length <= 1) return String(dtype);
  return counts.map(([name, n], i) => `${name} (${String(n)}${i === 0 ? " tensors" : ""})`).join(", ");
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function formatField(key: string, value: unknown, data: Record<string, unknown>): string {
  const text = typeof value === "string" ? value : "";
  if (key === "arch") return ARCH_NAMES[text] ?? text;
  if (key === "format") return FORMAT_NAMES[text] ?? text;
  if (key === "prediction_type") return PREDICTION_NAMES[text] ?? text;
  if (key === "dtype") return formatDtypes(value, data.dtypes);
  if (key === "size_bytes" && typeof value === "number") return formatBytes(value);
  if (key === "parameters" && isRecord(value)) return formatParameters(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The engine's `info` answer for a person: aligned "label: value" lines, then the notes. */
export function formatModelInfo(data: Record<string, unknown>): string {
  const labels: Record<string, string> = {
    path: "file",
    format: "format",
    arch: "architecture",
    prediction_type: "prediction",
    dtype: "dtype",
    size_bytes: "size",
    parameters: "parameters",
  };
  const shownElsewhere = new Set(["dtypes", "notes"]);
  const keys = [
    ...Object.keys(labels).filter((key) => key in data),
    ...Object.keys(data).filter((key) => !(key in labels) && !shownElsewhere.has(key)),
  ];
  const rows = keys.map((key) => [labels[key] ?? key.replace(/_/g, " "), formatField(key, data[key], data)]);
  const width = Math.max(0, ...rows.map(([label]) => label!.length));
  const lines = rows.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${value}`);
  const notes = Array.isArray(data.notes) ? data.notes.map(String) : [];
  if (notes.length) lines.push("notes:", ...notes.map((note) => `  - ${note}`));
  return lines.join("\n");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}
