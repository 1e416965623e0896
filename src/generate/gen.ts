import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import type { EngineDone } from "../engine/driver.ts";
import { runEngineToDone } from "../engine/run-to-done.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { Arch, GenerateSpec, ParsedPrompt as SpecPrompt } from "../engine/spec.ts";
import { parseLoraFlag, resolveLoras } from "./loras.ts";
import { parsePrompt, type ParsedPrompt } from "./prompt.ts";
import { A1111_SAMPLERS, canonicalSampler } from "./samplers.ts";

export interface GenOptions {
  model: string;
  arch?: Arch;
  prompt: string;
  negative: string;
  loras: string[]; // --lora FILE[:weight]
  loraDir?: string;
  embeddingsDir?: string;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  seed: number; // -1: random
  batchCount: number;
  batchSize: number;
  clipSkip: number;
  initImage?: string;
  strength: number;
  out: string;
  device: "auto" | "cpu" | "cuda";
  precision: "no" | "fp16" | "bf16";
}

/** What `danlu gen` and the service's gen job use for every setting not given. */
export const GEN_DEFAULTS = {
  negative: "",
  sampler: "DPM++ 2M Karras",
  steps: 20,
  cfg: 7,
  width: 512,
  height: 512,
  seed: -1,
  batchCount: 1,
  batchSize: 1,
  clipSkip: 1,
  strength: 0.75,
  device: "auto",
  precision: "no",
} as const satisfies Partial<GenOptions>;

function bad(message: string, hint: string): DanluError {
  return new DanluError(message, { code: "BAD_ARGUMENT", hint, exitCode: 2 });
}

function toSpecPrompt(parsed: ParsedPrompt): SpecPrompt {
  return { text: parsed.text, sections: parsed.sections };
}

/** Embedding files in DIR whose file name appears as a word in the prompt or negative (A1111 style). */
export function usedEmbeddings(dir: string | undefined, texts: string[]): string[] {
  if (!dir) return [];
  const full = resolve(dir);
  if (!existsSync(full))
    throw bad(`--embeddings ${dir}: no such folder.`, "Give the folder of .safetensors/.pt embeddings.");
  const files = readdirSync(full).filter((f) => [".safetensors", ".pt"].includes(extname(f).toLowerCase()));
  return files
    .filter((f) => {
      const name = basename(f, extname(f)).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return texts.some((t) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(t));
    })
    .map((f) => join(full, f));
}

/** The next free A1111-style image number in DIR ("00007-1234.png" -> 8). */
export function nextImageNumber(dir: string): number {
  if (!existsSync(dir)) return 0;
  const numbers = readdirSync(dir)
    .map((f) => /^(\d{5})-/.exec(f)?.[1])
    .filter((n) => n !== undefined);
  return numbers.length === 0 ? 0 : Math.max(...numbers.map(Number)) + 1;
}

function checkOptions(o: GenOptions): string {
  const sampler = canonicalSampler(o.sampler);
  if (!sampler)
    throw bad(
      `--sampler "${o.sampler}" is not a sampler danlu knows.`,
      `Use one of: ${A1111_SAMPLERS.join(", ")}.`,
    );
  if (o.width % 8 !== 0 || o.height % 8 !== 0 || o.width < 8 || o.height < 8) {
    throw bad(
      `--width ${o.width} --height ${o.height}: the size must be a multiple of 8.`,
      "For example 512x768 or 1024x1024.",
    );
  }
  if (!(o.strength >= 0 && o.strength <= 1))
    throw bad(`--strength ${o.strength} must be between 0 and 1.`, "0.6 keeps the layout.");
  if (!existsSync(resolve(o.model))) {
    throw new DanluError(`--model ${o.model}: no such file or folder.`, {
      code: "FILE_NOT_FOUND",
      hint: "Give a .safetensors/.ckpt checkpoint or a diffusers model folder.",
    });
  }
  if (o.initImage && !existsSync(resolve(o.initImage))) {
    throw new DanluError(`--init-image ${o.initImage}: no such file.`, { code: "FILE_NOT_FOUND" });
  }
  return sampler;
}

/** Everything `danlu gen` decides before the engine starts: the one-job generate spec. */
export function buildGenerateSpec(
  o: GenOptions,
  randomSeed = () => Math.floor(Math.random() * 2 ** 32),
): GenerateSpec {
  const sampler = checkOptions(o);
  const prompt = parsePrompt(o.prompt);
  const negative = parsePrompt(o.negative);
  const loras = resolveLoras(o.loras.map(parseLoraFlag), [...prompt.loras, ...negative.loras], o.loraDir);
  const out = resolve(o.out);
  const prefix = String(nextImageNumber(out)).padStart(5, "0");
  return {
    version: 1,
    model: { path: resolve(o.model), arch: o.arch ?? null, v_prediction: null, vae_path: null },
    device: o.device,
    precision: o.precision,
    embeddings: usedEmbeddings(o.embeddingsDir, [o.prompt, o.negative]),
    output: { dir: out },
    jobs: [
      {
        prompt: toSpecPrompt(prompt),
        negative: toSpecPrompt(negative),
        loras,
        sampler,
        steps: o.steps,
        cfg: o.cfg,
        width: o.width,
        height: o.height,
        seed: o.seed < 0 ? randomSeed() : o.seed,
        batch_count: o.batchCount,
        batch_size: o.batchSize,
        clip_skip: o.clipSkip,
        init_image: o.initImage ? resolve(o.initImage) : null,
        strength: o.strength,
        file_prefix: prefix,
      },
    ],
  };
}

/** Runs the engine's generate command; onEvent sees every event (sample per image); `signal` cancels it. */
export async function runGenerate(
  spec: GenerateSpec,
  onEvent: (e: EngineEvent) => void,
  options: { signal?: AbortSignal } = {},
): Promise<EngineDone> {
  mkdirSync(spec.output.dir, { recursive: true });
  const run = { onEvent, ...(options.signal ? { signal: options.signal } : {}) };
  return runEngineToDone("generate", spec, run, "Generation was cancelled.");
}
