import { basename } from "node:path";
import type { TrainPlan } from "./plan.ts";

/** When files are written, by sd-scripts' rules and names (the extension is always .safetensors). */
export interface SaveOptions {
  /** 0: no per-epoch files. */
  saveEveryNEpochs: number;
  /** 0: no per-step files. */
  saveEveryNSteps: number;
  outputName: string;
}

export interface SavePoint {
  epoch: number | null;
  step: number;
  file: string;
}

export function epochFileName(outputName: string, epoch: number): string {
  return `${outputName}-${String(epoch).padStart(6, "0")}.safetensors`;
}

export function stepFileName(outputName: string, step: number): string {
  return `${outputName}-step${String(step).padStart(8, "0")}.safetensors`;
}

/**
 * Every N epochs except the last (the final file covers it), every N optimizer steps, and
 * `{outputName}.safetensors` at the end, in the order they are written.
 */
export function saveSchedule(plan: TrainPlan, options: SaveOptions): SavePoint[] {
  const points: SavePoint[] = [];
  const { saveEveryNEpochs: everyEpochs, saveEveryNSteps: everySteps, outputName } = options;
  for (let epoch = 1; epoch <= plan.numEpochs; epoch++) {
    const firstStep = (epoch - 1) * plan.stepsPerEpoch + 1;
    const lastStep = Math.min(epoch * plan.stepsPerEpoch, plan.totalSteps);
    for (let step = firstStep; everySteps > 0 && step <= lastStep; step++) {
      if (step % everySteps === 0) points.push({ epoch: null, step, file: stepFileName(outputName, step) });
    }
    if (everyEpochs > 0 && epoch % everyEpochs === 0 && epoch < plan.numEpochs) {
      points.push({ epoch, step: lastStep, file: epochFileName(outputName, epoch) });
    }
  }
  points.push({ epoch: plan.numEpochs, step: plan.totalSteps, file: `${outputName}.safetensors` });
  return points;
}

function table(rows: string[][], rightAligned: (column: number) => boolean): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? "").length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, c) => (rightAligned(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function datasetSection(plan: TrainPlan): string[] {
  const rows = [["folder", "images", "repeats", "per epoch", ""]];
  for (const s of plan.subsets) {
    const note = s.isReg ? "regularization: cycled to match the training images" : "";
    rows.push([basename(s.dir), String(s.imageCount), String(s.repeats), String(s.perEpoch), note]);
  }
  const images = plan.subsets.reduce((sum, s) => sum + s.imageCount, 0);
  const perEpoch = plan.subsets.reduce((sum, s) => sum + s.perEpoch, 0);
  rows.push(["total", String(images), "", String(perEpoch), ""]);
  return ["Dataset", ...table(rows, (c) => c > 0 && c < 4).map((line) => `  ${line}`)];
}

function bucketSection(plan: TrainPlan): string[] {
  const settings = plan.bucketSettings;
  const [width, height] = settings.resolution;
  const how = !settings.enableBucket
    ? "no buckets: every image is resized and cropped to the resolution"
    : settings.bucketNoUpscale
      ? `bucket_no_upscale, step ${settings.bucketResoSteps}`
      : `min ${settings.minBucketReso}, max ${settings.maxBucketReso}, step ${settings.bucketResoSteps}`;
  const rows = plan.buckets.map((b) => [`${b.size[0]}x${b.size[1]}`, String(b.count)]);
  return [
    `Buckets (resolution ${width}x${height}; ${how}), images x repeats per epoch`,
    ...table(rows, (c) => c === 1).map((line) => `  ${line}`),
  ];
}

/**
 * How many micro-batches one optimizer step takes: one per process per accumulation step. With several
 * processes the global batch grows and the learning rate is left as set (the user decides how to scale it).
 */
function stepsPerEpochLines(plan: TrainPlan): string[] {
  const { numProcesses: n, batchSize: b, gradientAccumulationSteps: a } = plan;
  if (n === 1) {
    return a > 1
      ? [`  steps per epoch: ${plan.batchesPerEpoch} / gradient accumulation ${a} = ${plan.stepsPerEpoch}`]
      : [`  steps per epoch: ${plan.stepsPerEpoch}`];
  }
  const perStep = a > 1 ? `(${n} processes x accumulation ${a})` : `${n} processes`;
  return [
    `  ${n} processes x batch ${b} x accumulation ${a} = global batch ${n * b * a}; ` +
      `steps per epoch ${plan.stepsPerEpoch} (${plan.batchesPerEpoch} batches / ${perStep})`,
    `  the learning rate is not scaled automatically; with a global batch ${n} times larger, sd-scripts users ` +
      `often scale lr by ${n} (linear) or sqrt(${n}) = ${Math.sqrt(n).toFixed(2)}`,
  ];
}

function stepsSection(plan: TrainPlan): string[] {
  const uses = plan.numTrainImages + plan.regImagesPerEpoch;
  const trainTerms = plan.subsets.filter((s) => !s.isReg).map((s) => `${s.imageCount} x ${s.repeats}`);
  const regTerm = plan.regImagesPerEpoch > 0 ? ` + ${plan.regImagesPerEpoch} regularization` : "";
  const evenBatches = Math.ceil(uses / plan.batchSize);
  const partial = plan.batchesPerEpoch - evenBatches;
  const lines = [
    `  images x repeats per epoch: ${trainTerms.join(" + ")}${regTerm} = ${uses}`,
    `  batches per epoch: ${uses} / batch size ${plan.batchSize} = ${evenBatches}` +
      (partial > 0
        ? `, + ${partial} for buckets whose last batch is not full = ${plan.batchesPerEpoch}`
        : ""),
  ];
  lines.push(...stepsPerEpochLines(plan));
  const fullRun = plan.numEpochs * plan.stepsPerEpoch;
  if (fullRun === plan.totalSteps) {
    lines.push(`  total: ${plan.stepsPerEpoch} steps x ${plan.numEpochs} epochs = ${plan.totalSteps} steps`);
  } else {
    const lastSteps = plan.totalSteps - (plan.numEpochs - 1) * plan.stepsPerEpoch;
    lines.push(
      `  total: max_train_steps = ${plan.totalSteps} steps, ${plan.numEpochs} epochs ` +
        `(the last cut short after ${lastSteps} of ${plan.stepsPerEpoch} steps)`,
    );
  }
  return ["Steps (images x repeats x epochs / batch size)", ...lines];
}

function savesSection(plan: TrainPlan, options: SaveOptions): string[] {
  const points = saveSchedule(plan, options);
  const shown = points.length > 8 ? [...points.slice(0, 4), null, ...points.slice(-3)] : points;
  const lines = shown.map((point) => {
    if (!point) return `  ... ${points.length - 7} more ...`;
    const when =
      point.file === `${options.outputName}.safetensors` ? "end" : point.epoch ? `epoch ${point.epoch}` : "";
    return `  ${`${when ? `${when}, ` : ""}step ${point.step}:`.padEnd(24)}${point.file}`;
  });
  return ["Saves (in the output folder)", ...lines];
}

/** The plan as a person reads it before training: folders, buckets, step arithmetic, and the files to expect. */
export function formatPlan(plan: TrainPlan, options: SaveOptions): string {
  const sections = [
    datasetSection(plan),
    bucketSection(plan),
    stepsSection(plan),
    savesSection(plan, options),
  ];
  if (plan.warnings.length > 0) sections.push(["Warnings", ...plan.warnings.map((w) => `  ${w}`)]);
  return sections.map((lines) => lines.join("\n")).join("\n\n");
}
