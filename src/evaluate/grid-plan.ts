import { DanluError } from "../errors.ts";
import type { GenJob, ParsedPrompt } from "../engine/spec.ts";
import type { SamplePrompt } from "../sampling/index.ts";
import type { Axis, AxisValue } from "./axes.ts";

/** Everything one grid cell is generated with. */
export interface CellSettings {
  epoch: number | null; // null: the single LoRA given (no run); 0: the base model alone
  weight: number;
  prompt: string;
  negative: string;
  seed: number;
  sampler: string; // an A1111 name
  cfg: number;
  steps: number;
  width: number;
  height: number;
}

export interface GridCell {
  x: number;
  y: number;
  z: number;
  settings: CellSettings;
  /** The engine writes the image to `{dir}/{prefix}-{seed}.png`. */
  prefix: string;
}

export interface GridPlan {
  x: Axis | null;
  y: Axis | null;
  z: Axis | null;
  cells: GridCell[];
}

/** sd-scripts sample sampler names (a training run's prompts) -> the A1111 names `generate` takes. */
const SAMPLE_TO_A1111: Record<string, string> = {
  ddim: "DDIM",
  pndm: "PLMS",
  lms: "LMS",
  euler: "Euler",
  euler_a: "Euler a",
  heun: "Heun",
  dpm_2: "DPM2",
  dpm_2_a: "DPM2 a",
  dpmsolver: "DPM++ 2M",
  "dpmsolver++": "DPM++ 2M",
  dpmsingle: "DPM++ 2S",
};

/** A training sample prompt as cell settings (the LoRA at weight 1, no epoch chosen yet). */
export function settingsFromSample(sample: SamplePrompt): CellSettings {
  return {
    epoch: null,
    weight: 1,
    prompt: sample.prompt,
    negative: sample.negative_prompt,
    seed: sample.seed,
    sampler: SAMPLE_TO_A1111[sample.sampler] ?? "Euler a",
    cfg: sample.scale,
    steps: sample.steps,
    width: sample.width,
    height: sample.height,
  };
}

function withValue(
  settings: CellSettings,
  axis: Axis | null,
  index: number,
  presets: Map<string, CellSettings>,
): CellSettings {
  if (!axis) return settings;
  const value: AxisValue | undefined = axis.values[index];
  if (value === undefined) return settings;
  switch (axis.kind) {
    case "epoch":
      return { ...settings, epoch: Number(value) };
    case "weight":
      return { ...settings, weight: Number(value) };
    case "seed":
      return { ...settings, seed: Number(value) };
    case "cfg":
      return { ...settings, cfg: Number(value) };
    case "sampler":
      return { ...settings, sampler: String(value) };
    case "prompt": {
      // a run's own sample prompt brings its negative prompt, seed, size, steps and CFG along
      const preset = presets.get(String(value));
      return preset
        ? { ...preset, epoch: settings.epoch, weight: settings.weight }
        : { ...settings, prompt: String(value) };
    }
  }
}

/** Every cell of an X/Y/Z grid (z-major, then rows, then columns), each with a unique file prefix. */
export function planGrid(
  axes: { x: Axis | null; y: Axis | null; z: Axis | null },
  base: CellSettings,
  presets: Map<string, CellSettings> = new Map(),
): GridPlan {
  const count = (axis: Axis | null): number => axis?.values.length ?? 1;
  const cells: GridCell[] = [];
  for (let z = 0; z < count(axes.z); z++) {
    for (let y = 0; y < count(axes.y); y++) {
      for (let x = 0; x < count(axes.x); x++) {
        // z first, so an X or Y prompt preset cannot undo a Z epoch or weight
        let settings = withValue(base, axes.z, z, presets);
        settings = withValue(settings, axes.y, y, presets);
        settings = withValue(settings, axes.x, x, presets);
        cells.push({ x, y, z, settings, prefix: `cell-z${z}-y${y}-x${x}` });
      }
    }
  }
  return { ...axes, cells };
}

/** What the grid needs to turn a cell into an engine job. */
export interface JobContext {
  /** The LoRA file for an epoch (null: the single LoRA given; 0 never asked). */
  loraFor: (epoch: number | null) => { path: string; name: string } | null;
  parsePrompt: (text: string) => ParsedPrompt;
  clipSkip: number;
  /** ControlNet units every cell uses (`danlu grid --controlnet`); unset: none. */
  controlnets?: GenJob["controlnets"];
}

/** One `generate` job per cell: one image, the cell's seed, the LoRA at the cell's weight. */
export function jobFor(cell: GridCell, context: JobContext): GenJob {
  const s = cell.settings;
  const lora = s.epoch === 0 ? null : context.loraFor(s.epoch);
  if (s.epoch !== 0 && lora === null) {
    throw new DanluError(`grid cell ${cell.prefix}: no LoRA file for epoch ${s.epoch}.`, {
      code: "BAD_AXIS",
    });
  }
  return {
    prompt: context.parsePrompt(s.prompt),
    negative: context.parsePrompt(s.negative),
    loras: lora ? [{ ...lora, unet_weight: s.weight, te_weight: s.weight }] : [],
    sampler: s.sampler,
    steps: s.steps,
    cfg: s.cfg,
    width: s.width,
    height: s.height,
    seed: s.seed,
    batch_count: 1,
    batch_size: 1,
    clip_skip: context.clipSkip,
    init_image: null,
    strength: 0.75,
    file_prefix: cell.prefix,
    inpaint: null,
    hires: null,
    controlnets: context.controlnets ?? [],
  };
}
