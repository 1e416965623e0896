import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import {
  layerFromTable,
  loadTrainLayers,
  TRAIN_KEYS,
  type TrainConfig,
  type TrainConfigLayer,
} from "../../config/index.ts";
import { PRESET_NAMES } from "../../config/presets/index.ts";
import { logDirOf, prepareRun, runTraining } from "../../training/run.ts";
import type { TrainPlan } from "../../training/plan.ts";
import { checkName } from "../paths.ts";
import { JobCancelledError } from "../types.ts";
import { badParams, defineKind, engineHooks, hidePaths, runRelative } from "./common.ts";
import type { KindContext } from "./types.ts";

/**
 * `danlu train` as a job: the same layering (preset < config < the keys the job fixes), prepareRun and
 * runTraining. The job names its files (dataset, model); every path key is the job's to set. State is saved
 * with each epoch, so an attempt after a lost worker or a cancel resumes from the newest state in its folder.
 */

/** The config keys that hold a filesystem path: the job sets them or does not offer them. */
export const PATH_KEYS: readonly string[] = Object.entries(TRAIN_KEYS)
  .filter(([, def]) => def.typeLabel === "path")
  .map(([key]) => key);

const PATH_HINTS: Record<string, string> = {
  train_data_dir: "name the dataset in `dataset` (a layout written by the data-layout kind)",
  reg_data_dir: "name the regularization dataset in `reg_dataset`",
  pretrained_model_name_or_path: "name the base model in `model` (a file in the service's models folder)",
  output_dir: "a job writes into its own folder; its result lists the files",
  sample_prompts: "give the prompts' text in `sample_prompts` (one per line, sd-scripts syntax)",
};

const NO_PATHS = "this setting takes a server path, which jobs cannot give";

function isName(name: string): boolean {
  try {
    checkName(name, "output_name");
    return true;
  } catch {
    return false;
  }
}

/** Why a config key is refused, or null; messages name the key as `config.KEY`. */
/** What is wrong with one key of a job's `config` (a path key, a bad output name, an unknown key...). */
export function configProblem(key: string, value: unknown): { message: string; hint: string } | null {
  if (PATH_KEYS.includes(key)) {
    return { message: "is a path; jobs name their files instead", hint: PATH_HINTS[key] ?? NO_PATHS };
  }
  // the file name stem of every output: it must not lead out of the job's folder
  if (key === "output_name" && typeof value === "string" && !isName(value)) {
    return {
      message: `'${value}' is not a valid file name stem`,
      hint: "letters, digits, '_', '-', '.' or spaces",
    };
  }
  try {
    layerFromTable({ [key]: value }, { name: "config", where: (k) => `config.${k}`, base: null });
    return null;
  } catch (error) {
    return {
      message: (error as Error).message.replace(/^config\.\S+: /, ""),
      hint: "`danlu config show` lists every key",
    };
  }
}

export const trainParams = z.strictObject({
  dataset: z
    .string()
    .describe(
      "your dataset laid out as a kohya train_data_dir ({repeats}_{name} folders: the data-layout kind)",
    ),
  model: z
    .string()
    .describe("the base model: a file (or diffusers folder) name in the service's models folder"),
  preset: z
    .enum(PRESET_NAMES as [string, ...string[]])
    .optional()
    .describe("start from a guide's settings (danlu presets show NAME); config overrides it"),
  config: z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((config, issues) => {
      for (const [key, value] of Object.entries(config)) {
        const problem = configProblem(key, value);
        if (problem)
          issues.addIssue({ code: "custom", path: [key], message: `${problem.message} (${problem.hint})` });
      }
    })
    .describe(
      "training settings as in `danlu config show` or a danlu TOML, e.g. {network_dim: 32, max_train_epochs: 10}; no path keys",
    ),
  reg_dataset: z
    .string()
    .optional()
    .describe("your regularization images, laid out like dataset (reg_data_dir)"),
  sample_prompts: z
    .string()
    .optional()
    .describe(
      "sample prompts, one per line (sd-scripts syntax: --n --w --h --d --s --l); with sample_every_n_epochs",
    ),
});

export type TrainParams = z.output<typeof trainParams>;

/** What a train job would do, without training: the config it resolves to and the plan (steps, buckets, saves). */
export async function planTrain(p: TrainParams, ctx: KindContext) {
  const config = await jobConfig(p, ctx);
  const prepared = await prepareRun(config, { dryRun: true });
  return {
    config,
    arch: prepared.arch,
    report: hidePaths(ctx, prepared.report),
    warnings: [...prepared.dataset.warnings, ...prepared.plan.warnings].map((line) => hidePaths(ctx, line)),
    total_steps: prepared.plan.totalSteps,
    epochs: prepared.plan.numEpochs,
    details: planDetails(prepared.plan, config),
  };
}

/** The plan's numbers, for a form that words them itself (the web UI, in the reader's language). */
function planDetails(plan: TrainPlan, config: TrainConfig) {
  return {
    subsets: plan.subsets
      .filter((subset) => !subset.isReg)
      .map((subset) => ({ name: subset.name, images: subset.imageCount, repeats: subset.repeats })),
    reg_images: plan.numRegImages,
    images_per_epoch: plan.numTrainImages,
    batch_size: plan.batchSize,
    gradient_accumulation_steps: plan.gradientAccumulationSteps,
    steps_per_epoch: plan.stepsPerEpoch,
    buckets: plan.buckets.map(({ size: [width, height], count }) => ({ width, height, count })),
    save_every_n_epochs: config.save_every_n_epochs ?? 0,
    save_every_n_steps: config.save_every_n_steps ?? 0,
  };
}

/** The newest resumable state in the run folder (highest current_step), or null. */
export function latestState(runDir: string, outputName: string): { dir: string; step: number } | null {
  if (!existsSync(runDir)) return null;
  let best: { dir: string; step: number } | null = null;
  for (const entry of readdirSync(runDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(`${outputName}-`) || !entry.name.endsWith("-state"))
      continue;
    const file = join(runDir, entry.name, "train_state.json");
    if (!existsSync(file)) continue;
    const step = (JSON.parse(readFileSync(file, "utf8")) as { current_step?: unknown }).current_step;
    if (typeof step === "number" && (!best || step > best.step))
      best = { dir: join(runDir, entry.name), step };
  }
  return best;
}

/** The layers a job adds over the preset: the user's config, then what the job fixes (paths, save_state). */
async function jobConfig(p: TrainParams, ctx: KindContext): Promise<TrainConfig> {
  for (const [key, value] of Object.entries(p.config)) {
    const problem = PATH_KEYS.includes(key) || key === "output_name" ? configProblem(key, value) : null;
    if (problem) throw badParams(`config.${key}`, problem.message, problem.hint);
  }
  // every other problem at once, as a config file's are (unknown keys with did-you-mean)
  const user = layerFromTable(p.config, { name: "config", where: (k) => `config.${k}`, base: null });
  let samplePrompts: string | undefined;
  if (p.sample_prompts !== undefined) {
    samplePrompts = join(ctx.runDir, "prompts.txt");
    writeFileSync(
      samplePrompts,
      p.sample_prompts.endsWith("\n") ? p.sample_prompts : `${p.sample_prompts}\n`,
    );
  }
  if (user.save_state === false)
    ctx.log("save_state is always on for jobs (a stopped job resumes from it)", "warning");
  const fixed: TrainConfigLayer = {
    pretrained_model_name_or_path: ctx.paths.model(p.model),
    train_data_dir: ctx.paths.dataset(p.dataset),
    output_dir: ctx.runDir,
    save_state: true,
    ...(p.reg_dataset ? { reg_data_dir: ctx.paths.dataset(p.reg_dataset) } : {}),
    ...(samplePrompts ? { sample_prompts: samplePrompts } : {}),
  };
  const { config, warnings } = await loadTrainLayers({ preset: p.preset, layers: [user, fixed] });
  for (const warning of warnings) ctx.log(warning, "warning");
  // something to resume from at least every epoch, unless the user chose otherwise
  if (user.save_every_n_epochs === undefined && config.save_every_n_epochs < 1) {
    return { ...config, save_every_n_epochs: 1 };
  }
  return config;
}

/** The LoRA files (and pivotal embeddings) the run folder holds, relative to it. */
function loraFiles(ctx: KindContext): string[] {
  return readdirSync(ctx.runDir)
    .filter((name) => name.endsWith(".safetensors"))
    .sort();
}

export const train = defineKind({
  name: "train",
  summary:
    "train a LoRA on a laid-out dataset; resumes from its newest saved state when run again (danlu train)",
  usesEngine: true,
  params: trainParams,
  async run(p, ctx) {
    ctx.stage("preparing");
    const config = await jobConfig(p, ctx);
    const resume = latestState(ctx.runDir, config.output_name);
    const prepared = await prepareRun(config, { ...engineHooks(ctx), resume: resume?.dir ?? null });
    const warnings = [
      ...prepared.dataset.warnings,
      ...prepared.plan.warnings,
      ...(prepared.resume?.warnings ?? []),
    ];
    for (const warning of warnings) ctx.log(hidePaths(ctx, warning), "warning");
    ctx.log(hidePaths(ctx, prepared.report));
    if (resume) ctx.log(`resuming from ${runRelative(ctx, resume.dir)} at step ${resume.step}`);
    ctx.stage("training");
    const result = await runTraining(config, prepared, {
      ...engineHooks(ctx),
      onNote: (text) => ctx.log(hidePaths(ctx, text), text.startsWith("warning") ? "warning" : "info"),
    });
    if (result.status === "cancelled") {
      const saved = result.stateDir ? `; state saved in ${runRelative(ctx, result.stateDir)}` : "";
      ctx.log(`stopped at step ${result.step}${saved}`);
      throw new JobCancelledError();
    }
    return {
      files: loraFiles(ctx),
      steps: result.steps,
      elapsed_s: result.elapsedS,
      logs: runRelative(ctx, logDirOf(config)),
      resumed_from_step: resume?.step ?? null,
    };
  },
});
