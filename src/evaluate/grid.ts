import { existsSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { isBlack } from "./drift.ts";
import { checkDistinctAxes, parseAxis, type Axis } from "./axes.ts";
import { generateJobs, gridPrompt, nextNumberedDir, type EngineChoices } from "./generate-cells.ts";
import { jobFor, planGrid, settingsFromSample, type CellSettings, type GridPlan } from "./grid-plan.ts";
import { renderGrids } from "./grid-render.ts";
import { readRunFolder, type RunFolder } from "./run-folder.ts";
import { controlNetUnits, type ControlNetOptions } from "../generate/controlnet.ts";

/** `danlu grid` options as the CLI collects them (undefined: the run's sample prompt or the default). */
export interface GridOptions extends EngineChoices {
  /** A training output folder, or one LoRA .safetensors file. */
  target: string;
  name?: string;
  x?: string;
  y?: string;
  z?: string;
  model?: string;
  out?: string;
  prompt?: string;
  negative?: string;
  seed?: number;
  steps?: number;
  cfg?: number;
  sampler?: string;
  width?: number;
  height?: number;
  weight?: number;
  clipSkip: number;
  /** ControlNet units for every cell (`--controlnet`), as `danlu gen` takes them. */
  controlnets?: ControlNetOptions[];
  onEvent?: (event: EngineEvent) => void;
  /** Told how many images the grid will draw, before the engine starts. */
  onPlan?: (images: number) => void;
}

export interface GridResult {
  dir: string;
  grids: string[];
  plan: GridPlan;
  /** Each cell's image, by its file prefix. */
  images: Map<string, string[]>;
  /** Cell images that came out all black (the model produced NaN values). */
  black: string[];
}

/** How grid and eval draw when not told (the CLI's flags and the service's params share these). */
export const DRAW_DEFAULTS = {
  device: "auto",
  precision: "no",
  clipSkip: 1,
} as const satisfies Partial<GridOptions>;

/**
 * The settings of every cell when the run has no sample prompt to take them from (a LoRA file given
 * alone, or a run trained without samples); otherwise the run's first sample prompt's.
 */
export const CELL_DEFAULTS = {
  seed: 1,
  sampler: "Euler a",
  cfg: 7,
  steps: 20,
  width: 512,
  height: 512,
  weight: 1,
} as const;

/** The weights a run folder given alone is compared at. */
export const DEFAULT_WEIGHTS = "weight=0.6,0.8,1.0";

/** The run's sample prompts as presets (each brings its own seed, size, steps, CFG and negative). */
export function samplePresets(run: RunFolder | null): Map<string, CellSettings> {
  return new Map((run?.spec.sample.prompts ?? []).map((p) => [p.prompt, settingsFromSample(p)]));
}

export function baseSettings(options: GridOptions, presets: Map<string, CellSettings>): CellSettings {
  const first = [...presets.values()][0];
  const promptAxis = [options.x, options.y, options.z].some((axis) => /^\s*prompts?\s*=/i.test(axis ?? ""));
  const prompt = options.prompt ?? first?.prompt ?? (promptAxis ? "" : undefined);
  if (prompt === undefined) {
    throw new DanluError("no prompt for the grid: the run has no sample prompts.", {
      code: "NO_PROMPT",
      hint: "give --prompt TEXT (or a prompt axis: --y 'prompt=a photo of dln|dln smiling')",
    });
  }
  // a --prompt of one's own keeps the run's first sample settings (size, steps, sampler) but not its negative
  const from = first
    ? { ...first, negative: options.prompt === undefined ? first.negative : "" }
    : { ...CELL_DEFAULTS, epoch: null, prompt, negative: "" };
  return {
    ...from,
    prompt,
    negative: options.negative ?? from.negative,
    seed: options.seed ?? from.seed,
    steps: options.steps ?? from.steps,
    cfg: options.cfg ?? from.cfg,
    sampler: options.sampler ?? from.sampler,
    width: options.width ?? from.width,
    height: options.height ?? from.height,
    weight: options.weight ?? CELL_DEFAULTS.weight,
  };
}

export function chooseAxes(options: GridOptions, run: RunFolder | null, presets: Map<string, CellSettings>) {
  const epochs = run ? { saved: run.epochs.map((e) => e.epoch) } : null;
  const parse = (text: string | undefined, flag: string): Axis | null =>
    text === undefined ? null : parseAxis(text, flag, epochs);
  let axes = { x: parse(options.x, "--x"), y: parse(options.y, "--y"), z: parse(options.z, "--z") };
  if (!axes.x && !axes.y && !axes.z && run) {
    // a run folder alone: every saved epoch x weights 0.6/0.8/1.0, one grid per sample prompt
    const prompts = options.prompt === undefined ? [...presets.keys()] : [];
    axes = {
      x: parseAxis("epoch=all", "--x", epochs),
      y: parseAxis(DEFAULT_WEIGHTS, "--y", epochs),
      z: prompts.length > 1 ? parseAxis(`prompt=${prompts.join("|")}`, "--z", epochs) : null,
    };
  }
  checkDistinctAxes([axes.x, axes.y, axes.z].filter((a): a is Axis => a !== null));
  return axes;
}

function openTarget(options: GridOptions): { run: RunFolder | null; lora: string | null } {
  const target = resolve(options.target);
  if (!existsSync(target)) {
    throw new DanluError(`${options.target} does not exist.`, {
      hint: "give a training output folder or a LoRA file",
    });
  }
  if (statSync(target).isDirectory()) return { run: readRunFolder(target, options.name), lora: null };
  return { run: null, lora: target };
}

/** The LoRA file for an epoch of the run (null epoch: the single file given, else the last epoch). */
export function loraLookup(run: RunFolder | null, lora: string | null) {
  return (epoch: number | null): { path: string; name: string } | null => {
    const path =
      epoch === null ? (lora ?? run?.epochs.at(-1)?.path) : run?.epochs.find((e) => e.epoch === epoch)?.path;
    return path ? { path, name: basename(path).replace(/\.safetensors$/, "") } : null;
  };
}

/** Plans a grid, generates every cell in one engine run and draws the labelled grid PNG(s). */
export async function runGrid(options: GridOptions): Promise<GridResult> {
  const { run, lora } = openTarget(options);
  const modelPath = options.model ?? run?.spec.model.path;
  if (!modelPath) {
    throw new DanluError("a LoRA file alone needs the base model to draw with.", {
      code: "NO_MODEL",
      hint: "give --model CHECKPOINT (or pass the training output folder instead of the file)",
    });
  }
  const presets = samplePresets(run);
  const plan = planGrid(chooseAxes(options, run, presets), baseSettings(options, presets), presets);
  const loraFor = (epoch: number | null) => {
    const path =
      epoch === null ? (lora ?? run?.epochs.at(-1)?.path) : run?.epochs.find((e) => e.epoch === epoch)?.path;
    return path ? { path, name: basename(path).replace(/\.safetensors$/, "") } : null;
  };
  const first = plan.cells[0]?.settings;
  const controlnets = controlNetUnits(options.controlnets ?? [], first?.width ?? 512, first?.height ?? 512);
  const context = { loraFor, parsePrompt: gridPrompt, clipSkip: options.clipSkip, controlnets };
  const jobs = plan.cells.map((cell) => jobFor(cell, context));
  options.onPlan?.(jobs.length);
  const dir = resolve(
    options.out ?? nextNumberedDir(join(run?.dir ?? dirname(lora ?? "."), "grids"), "grid"),
  );
  const images = await generateJobs(
    jobs,
    { path: resolve(modelPath), arch: options.model ? null : (run?.spec.model.arch ?? null), vaePath: null },
    join(dir, "cells"),
    options,
    options.onEvent,
  );
  const heading = run ? `run ${run.name}` : basename(lora ?? "");
  const grids = await renderGrids(plan, dir, (cell) => images.get(cell.prefix)?.[0] ?? null, heading);
  const black: string[] = [];
  for (const path of [...images.values()].flat()) if (await isBlack(path)) black.push(path);
  return { dir, grids, plan, images, black };
}
