import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { TrainSpec } from "../engine/spec.ts";
import { loadSamplePrompts, SD_SCRIPTS_SAMPLE_DEFAULTS } from "../sampling/index.ts";
import { captionOptionsOf, type PreparedRun } from "./prepared.ts";
import { LossHistory, TrainLog } from "./history.ts";
import { datasetMetadata } from "./metadata.ts";
import { buildTrainSpec } from "./spec-builder.ts";
import { ValidationHistory } from "./validation-history.ts";

export interface TrainRunOptions {
  signal?: AbortSignal;
  /** Every engine event, in order (the CLI renders progress or prints JSON). */
  onEvent: (event: EngineEvent) => void;
  /** Lines for a person (warnings, where files go). */
  onNote: (text: string) => void;
}

/** Where a run keeps its records: `{output_dir}/logs/{output_name}/`. */
export function logDirOf(config: TrainConfig): string {
  return join(resolve(config.output_dir), "logs", config.output_name);
}

/** One run's engine spec and the records its events go to (loss.csv, val_loss.csv, train.log). */
export interface RunRecords {
  spec: TrainSpec;
  specPath: string;
  logPath: string;
  /** Records the event, then passes it to the caller's onEvent. */
  onEvent: (event: EngineEvent) => void;
  onStderrLine: (line: string) => void;
  close: () => void;
}

/** Builds the train spec of a prepared run and opens its records; the caller runs the engine, then close(). */
export async function openRunRecords(
  config: TrainConfig,
  prepared: PreparedRun,
  options: TrainRunOptions,
): Promise<RunRecords> {
  const { plan, arch, dataset, resume } = prepared;
  const prompts = config.sample_prompts
    ? await loadSamplePrompts(config.sample_prompts, {
        ...SD_SCRIPTS_SAMPLE_DEFAULTS,
        width: config.resolution[0],
        height: config.resolution[1],
        sampler: config.sample_sampler,
        seed: config.seed,
      })
    : { prompts: [], warnings: [] };
  for (const warning of prompts.warnings) options.onNote(`warning: ${warning}`);
  const metadata: Record<string, string> = {
    ...datasetMetadata(plan, {
      subsets: dataset.subsets,
      captions: captionOptionsOf(config),
      flipAug: config.flip_aug,
      randomCrop: false,
      priorLossWeight: config.prior_loss_weight,
    }),
    ...(config.training_comment ? { ss_training_comment: config.training_comment } : {}),
    ...(config.trigger_word ? { "modelspec.trigger_phrase": config.trigger_word } : {}),
  };
  const spec = buildTrainSpec(config, plan, {
    arch,
    metadata,
    prompts: prompts.prompts,
    resume: resume?.dir ?? null,
    runRecord: prepared.record,
  });

  const logDir = logDirOf(config);
  mkdirSync(logDir, { recursive: true });
  const history = new LossHistory(join(logDir, "loss.csv"), resume ? { resumeAfterStep: resume.step } : {});
  const log = new TrainLog(join(logDir, "train.log"));
  const validation =
    spec.validation.images.length > 0
      ? new ValidationHistory(join(logDir, "val_loss.csv"), resume ? { resumeAfterStep: resume.step } : {})
      : null;
  log.note(resume ? `resuming from ${resume.dir} at step ${resume.step}` : "new run");
  log.note(prepared.report);
  return {
    spec,
    specPath: join(logDir, "spec.json"),
    logPath: log.path,
    onEvent: (event) => {
      log.event(event);
      if (event.event === "progress") history.append(event);
      if (event.event === "validation") validation?.append(event);
      options.onEvent(event);
    },
    onStderrLine: (line) => log.stderr(line),
    close: () => {
      history.close();
      validation?.close();
      log.close();
    },
  };
}
