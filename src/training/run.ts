import type { DatasetSubset, TrainConfig } from "../config/index.ts";
import { readKohyaDataset, readKohyaSubsets, type KohyaDataset } from "../dataset/kohya/index.ts";
import { runEngine, type EngineRunResult } from "../engine/driver.ts";
import { distributedEngineLauncher } from "../engine/python.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { Arch, GenerateSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { runGenerate } from "../generate/gen.ts";
import { detectArch } from "./arch.ts";
import { addClassImages } from "./class-images.ts";
import { buildPlan, type TrainPlan } from "./plan.ts";
import { formatPlan, saveSchedule, type SaveOptions } from "./plan-report.ts";
import { estimateLoraFileBytes, saveWarnings } from "./plan-saves.ts";
import { captionOptionsOf, type PreparedRun } from "./prepared.ts";
import { checkResume } from "./resume-check.ts";
import { runRecordOf } from "./resume-record.ts";
import { openRunRecords, type TrainRunOptions } from "./run-records.ts";
import { formatValidation, heldOutCount, type ValidationOptions } from "./validation.ts";

export { captionOptionsOf, type PreparedRun } from "./prepared.ts";
export { logDirOf, type TrainRunOptions } from "./run-records.ts";

export interface PrepareOptions {
  /** A kohya dataset config's subsets: they list the images instead of train_data_dir. */
  subsets?: readonly DatasetSubset[];
  /** Plan only: class images that would be generated are not. */
  dryRun?: boolean;
  /** Cancels the class image generation (class_images_target), the one engine run before training. */
  signal?: AbortSignal;
  /** That generation's engine events. */
  onEvent?: (event: EngineEvent) => void;
  /**
   * A state folder from an earlier run (`{name}-...-state`): refused (RESUME_MISMATCH, every change listed)
   * unless it was saved by this same run, or by a shorter or longer one on the same data.
   */
  resume?: string | null;
}

/**
 * Everything that can be checked without the GPU: model kind, dataset, buckets, steps. The images come
 * from train_data_dir (and reg_data_dir), or from `subsets` when a kohya dataset config lists them.
 */
export async function prepareRun(config: TrainConfig, options: PrepareOptions = {}): Promise<PreparedRun> {
  const arch = await detectArch(config);
  // generated class images (class_images_target) join the regularization images before the plan
  const generate = (spec: GenerateSpec) =>
    runGenerate(spec, options.onEvent ?? (() => {}), options.signal ? { signal: options.signal } : {});
  const dataset = await addClassImages(
    config,
    arch,
    await readDataset(config, options.subsets ?? []),
    generate,
    options.dryRun ?? false,
  );
  const [width, height] = config.resolution;
  const built = buildPlan(dataset, {
    arch,
    resolution: [width, height],
    enableBucket: config.enable_bucket,
    minBucketReso: config.min_bucket_reso,
    maxBucketReso: config.max_bucket_reso,
    bucketResoSteps: config.bucket_reso_steps,
    bucketNoUpscale: config.bucket_no_upscale,
    batchSize: config.train_batch_size,
    maxTrainEpochs: config.max_train_epochs ?? null,
    maxTrainSteps: maxTrainSteps(config, dataset),
    gradientAccumulationSteps: config.gradient_accumulation_steps,
    numProcesses: config.num_processes,
    seed: config.seed,
    captions: captionOptionsOf(config),
    flipAug: config.flip_aug,
    priorLossWeight: config.prior_loss_weight,
    validation: await validationOptions(config),
  });
  const saves: SaveOptions = {
    saveEveryNEpochs: config.save_every_n_epochs,
    saveEveryNSteps: config.save_every_n_steps,
    outputName: config.output_name,
  };
  const plan = {
    ...built,
    warnings: [...built.warnings, ...(await savesWarnings(config, arch, built, saves))],
  };
  const report = formatPlan(plan, saves);
  const validation = formatValidation(plan.validation.length, config);
  const record = runRecordOf(config, arch, dataset, plan);
  const resume = options.resume ? checkResume(options.resume, record) : null;
  const planned = validation ? `${report}\n${validation}` : report;
  const resumed = resume ? `${planned}\n\n${["Resume", ...resume.notes].join("\n")}` : planned;
  return { arch, dataset, plan, record, resume, report: resumed };
}

/** The number of LoRA files the run writes and their size, when out of the ordinary (plan-saves.ts). */
async function savesWarnings(config: TrainConfig, arch: Arch, plan: TrainPlan, saves: SaveOptions) {
  const bytesEach = await estimateLoraFileBytes({
    arch,
    modelPath: config.pretrained_model_name_or_path,
    networkDim: config.network_dim,
    trainTextEncoder: !config.network_train_unet_only,
    savePrecision: config.save_precision,
  });
  return saveWarnings({
    files: saveSchedule(plan, saves).length,
    bytesEach,
    epochs: plan.numEpochs,
    stepsPerEpoch: plan.stepsPerEpoch,
    saveEveryNEpochs: saves.saveEveryNEpochs,
    saveEveryNSteps: saves.saveEveryNSteps,
    networkDim: config.network_dim,
  });
}

/** The validation set's source: validation_data_dir's images, or validation_split of the training images. */
async function validationOptions(config: TrainConfig): Promise<ValidationOptions> {
  const seed = config.validation_seed ?? config.seed;
  if (!config.validation_data_dir) return { split: config.validation_split, seed };
  if (config.validation_split > 0) {
    throw new DanluError("validation_split and validation_data_dir are both set", {
      code: "CONFIG_CONFLICT",
      hint: "hold out part of the training images (validation_split) or name a folder, not both",
    });
  }
  const folder = await readKohyaDataset({
    trainDataDir: config.validation_data_dir,
    captionExtension: config.caption_extension,
  });
  return { split: 0, seed, folder: folder.subsets };
}

/** max_train_steps, or steps per image x the training images (each counted once) when that is set. */
function maxTrainSteps(config: TrainConfig, dataset: KohyaDataset): number {
  if (config.max_train_steps_per_image == null) return config.max_train_steps;
  let images = dataset.subsets.filter((s) => !s.isReg).reduce((sum, s) => sum + s.images.length, 0);
  if (config.validation_split > 0 && !config.validation_data_dir)
    images -= heldOutCount(config.validation_split, images);
  return config.max_train_steps_per_image * images;
}

async function readDataset(config: TrainConfig, subsets: readonly DatasetSubset[]): Promise<KohyaDataset> {
  const captionExtension = config.caption_extension;
  if (subsets.length === 0) {
    return readKohyaDataset({
      trainDataDir: config.train_data_dir ?? "",
      regDataDir: config.reg_data_dir ?? null,
      captionExtension,
    });
  }
  const dataset = await readKohyaSubsets({ subsets, captionExtension });
  // As sd-scripts does when a dataset config is given: the subsets are the dataset, the folders are not.
  const ignored = (["train_data_dir", "reg_data_dir"] as const).filter((key) => config[key]);
  if (ignored.length > 0) {
    dataset.warnings.unshift(
      `${ignored.map((key) => `${key} '${config[key]}'`).join(" and ")} ignored: the dataset config's ` +
        "[[datasets.subsets]] list the images (as in sd-scripts)",
    );
  }
  return dataset;
}

/** Trains one LoRA: prepare, write the spec, drive the engine, keep loss.csv and train.log. */
export async function runTraining(
  config: TrainConfig,
  prepared: PreparedRun,
  options: TrainRunOptions,
): Promise<EngineRunResult> {
  const records = await openRunRecords(config, prepared, options);
  try {
    return await runEngine("train", records.spec, {
      specPath: records.specPath,
      logPath: records.logPath,
      // several processes: accelerate launch, each taking its own micro-batches of every step (launch.py)
      ...(config.num_processes > 1
        ? { launcher: distributedEngineLauncher(config.num_processes, config.gpu_ids ?? null) }
        : {}),
      signal: options.signal,
      onStderrLine: records.onStderrLine,
      onEvent: records.onEvent,
    });
  } finally {
    records.close();
  }
}
