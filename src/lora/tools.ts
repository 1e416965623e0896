import { existsSync, statSync } from "node:fs";
import { rename } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import type { EngineCommand, EngineRunOptions, SpecFor } from "../engine/driver.ts";
import { runEngineToDone, shortCommandOutput } from "../engine/run-to-done.ts";
import { RESIZE_METHODS, type LORA_PRECISIONS } from "../engine/spec-lora.ts";
import { convertLora } from "./convert/convert.ts";
import { withKohyaView, withKohyaViews, type KohyaView } from "./kohya-view.ts";
import { groupModules, kindOf, type ModuleKind } from "./lora-keys.ts";
import { readSafetensorsHeader } from "./safetensors.ts";

/**
 * `danlu lora merge|resize|bake|extract`: the specs for the engine's lora-* commands (the SVDs and the
 * checkpoint loading run in Python), checked here first so a wrong path fails before torch starts.
 */
export type Precision = (typeof LORA_PRECISIONS)[number];
export type ResizeMethod = (typeof RESIZE_METHODS)[number];

export interface ModuleKept {
  module: string;
  rank: number;
  new_rank: number;
  fro_kept: number;
  sum_kept: number;
}
export interface ToolResult {
  out: string;
  modules?: ModuleKept[];
  mean_fro_kept?: number;
  min_fro_kept?: number;
  [key: string]: unknown;
}

function existing(path: string, what: string): string {
  const full = resolve(path);
  if (!existsSync(full)) throw new DanluError(`No such ${what}: ${full}`, { code: "FILE_NOT_FOUND" });
  return full;
}

/** The output: a new .safetensors in an existing folder, never one of the inputs. */
function outputPath(path: string, inputs: string[]): string {
  const full = resolve(path);
  if (!full.endsWith(".safetensors")) {
    throw new DanluError(`The output ${full} must end in .safetensors`, { code: "BAD_ARGUMENT" });
  }
  if (inputs.includes(full)) {
    throw new DanluError(`The output ${full} is one of the inputs`, {
      code: "BAD_ARGUMENT",
      hint: "name a new file",
    });
  }
  if (!existsSync(dirname(full)) || !statSync(dirname(full)).isDirectory()) {
    throw new DanluError(`The folder of ${full} does not exist`, { code: "FILE_NOT_FOUND" });
  }
  return full;
}

const KIND_NAMES: Partial<Record<ModuleKind, string>> = {
  loha: "LoHa",
  lokr: "LoKr",
  ia3: "IA3",
  dora: "DoRA",
  full: "full-weight",
};

/**
 * Resize and merge work on LoRA/LoCon factors (lora_down/lora_up): a LoHa, LoKr, IA3 or DoRA file is
 * refused naming its kind before the engine starts. `danlu lora bake` takes every kind.
 */
export async function refuseNonLoraKinds(
  path: string,
  shown: string,
  what: "resize" | "merge",
): Promise<void> {
  const header = await readSafetensorsHeader(path);
  const kinds = new Set(groupModules(header.tensors).map(kindOf));
  const other = [...kinds].map((k) => KIND_NAMES[k]).filter((k) => k !== undefined);
  if (other.length === 0) return;
  const instead =
    what === "resize"
      ? "Keep the file as it is, or bake it into a checkpoint: danlu lora bake MODEL FILE -o OUT.safetensors."
      : "Bake the files into a checkpoint instead (danlu lora bake MODEL A.safetensors:W B.safetensors:W -o " +
        "OUT.safetensors), or merge LoRA/LoCon files only.";
  const why =
    what === "resize"
      ? "it lowers the rank of LoRA factors, which this kind does not have"
      : "a LoHa/LoKr file does not store a conv layer's kernel size and IA3/DoRA changes depend on the base " +
        "model's weights, so their sum cannot be written as a LoRA without the base model";
  throw new DanluError(
    `${shown} is a ${other.join("/")} network: danlu lora ${what} works only on LoRA/LoCon files (${why}).`,
    { code: "BAD_ARGUMENT", hint: instead },
  );
}

/** How a tool's engine run is followed: its events (default: warnings on stderr) and a cancel signal. */
export type ToolRunOptions = Pick<EngineRunOptions, "onEvent" | "signal">;

/** The defaults of `danlu lora bake|extract` (and the service's jobs). */
export const LORA_TOOL_DEFAULTS = {
  resizeMethod: "fixed",
  mergeMode: "concat",
  bakePrecision: "fp16",
  extractRank: 32,
  extractTextEncoder: true,
  extractMinDiff: 0,
  extractPrecision: "fp16",
} as const;

async function run<C extends EngineCommand>(
  command: C,
  spec: SpecFor<C>,
  options: ToolRunOptions,
): Promise<ToolResult> {
  const result = await runEngineToDone(command, spec, { ...shortCommandOutput(), ...options });
  return (result.data ?? { out: "" }) as ToolResult;
}

export interface Weighted {
  path: string;
  weight: number;
}

export async function resizeLora(
  options: {
    input: string;
    out: string;
    rank: number;
    convRank?: number;
    method: ResizeMethod;
    param?: number;
    precision?: Precision;
  },
  engine: ToolRunOptions = {},
): Promise<ToolResult> {
  const path = existing(options.input, "LoRA file");
  if (options.method !== "fixed" && options.param === undefined) {
    throw new DanluError(`--method ${options.method} needs a value`, {
      code: "BAD_ARGUMENT",
      hint: "e.g. --method sv_fro --param 0.9 (sv_ratio: largest/smallest singular value kept, e.g. 10)",
    });
  }
  const out = outputPath(options.out, [path]);
  // The engine reads kohya names: a diffusers/ComfyUI file goes through a kohya copy, and the result
  // is written back in the layout it came in.
  return withKohyaView(path, async (view) => {
    await refuseNonLoraKinds(view.path, path, "resize");
    const result = await run(
      "lora-resize",
      {
        version: 1,
        path: view.path,
        out,
        rank: options.rank,
        conv_rank: options.convRank ?? options.rank,
        method: options.method,
        param: options.param ?? null,
        precision: options.precision ?? null,
      },
      engine,
    );
    await relayout(out, view);
    return result;
  });
}

/** Rewrites `out` (kohya names, from the engine) in the layout of the input `view` stands for. */
async function relayout(out: string, view: KohyaView): Promise<void> {
  if (view.layout === null || view.layout === "kohya") return;
  const temp = `${out}.${view.layout}.tmp`;
  await convertLora(out, temp, { to: view.layout, ...(view.arch ? { arch: view.arch } : {}) });
  await rename(temp, out);
}

export async function mergeLoras(
  options: {
    inputs: Weighted[];
    out: string;
    mode: "concat" | "svd";
    rank?: number;
    precision?: Precision;
  },
  engine: ToolRunOptions = {},
): Promise<ToolResult> {
  const inputs = options.inputs.map((i) => ({ path: existing(i.path, "LoRA file"), weight: i.weight }));
  if (options.mode === "svd" && options.rank === undefined) {
    throw new DanluError("merging by SVD needs --rank", { code: "BAD_ARGUMENT" });
  }
  const out = outputPath(
    options.out,
    inputs.map((i) => i.path),
  );
  return withKohyaViews(
    inputs.map((i) => i.path),
    async (views) => {
      for (const [n, input] of inputs.entries())
        await refuseNonLoraKinds(views[n]?.path ?? input.path, input.path, "merge");
      return run(
        "lora-merge",
        {
          version: 1,
          inputs: inputs.map((i, n) => ({ path: views[n]?.path ?? i.path, weight: i.weight })),
          out,
          mode: options.mode,
          rank: options.rank ?? 1,
          conv_rank: options.rank ?? 1,
          precision: options.precision ?? null,
        },
        engine,
      );
    },
  );
}

export async function bakeLoras(
  options: {
    model: string;
    loras: Weighted[];
    out: string;
    precision: Precision;
  },
  engine: ToolRunOptions = {},
): Promise<ToolResult> {
  const model = existing(options.model, "checkpoint");
  const loras = options.loras.map((i) => ({ path: existing(i.path, "LoRA file"), weight: i.weight }));
  const out = outputPath(options.out, [model, ...loras.map((l) => l.path)]);
  return withKohyaViews(
    loras.map((l) => l.path),
    (views) => {
      const viewed = loras.map((l, n) => ({ path: views[n]?.path ?? l.path, weight: l.weight }));
      return run(
        "lora-bake",
        { version: 1, model, loras: viewed, out, precision: options.precision },
        engine,
      );
    },
  );
}

export async function extractLora(
  options: {
    base: string;
    tuned: string;
    out: string;
    rank: number;
    textEncoder: boolean;
    minDiff: number;
    precision: Precision;
  },
  engine: ToolRunOptions = {},
): Promise<ToolResult> {
  const base = existing(options.base, "checkpoint");
  const tuned = existing(options.tuned, "checkpoint");
  return run(
    "lora-extract",
    {
      version: 1,
      base,
      tuned,
      out: outputPath(options.out, [base, tuned]),
      rank: options.rank,
      text_encoder: options.textEncoder,
      min_diff: options.minDiff,
      precision: options.precision,
    },
    engine,
  );
}

/** "file.safetensors:0.7" -> {path, weight}; no ":weight" means 1. A Windows drive letter is not a weight. */
export function parseWeighted(text: string): Weighted {
  const m = /^(.+):(-?\d+(?:\.\d+)?)$/.exec(text);
  if (m && m[1] && !/^[A-Za-z]$/.test(m[1])) return { path: m[1], weight: Number(m[2]) };
  return { path: text, weight: 1 };
}
