import { resolve } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import type { Arch, RunRecord, TrainSpec } from "../engine/spec.ts";
import { checkTextCacheSpec } from "../config/text-cache.ts";
import { lossSpec, optimizerSpec, schedulerType } from "./method-spec.ts";
import { networkSpec } from "./network-spec.ts";
import { applyPivotal } from "./pivotal.ts";
import type { TrainPlan } from "./plan.ts";
import { validationTimesteps } from "./validation.ts";

type SamplePrompt = TrainSpec["sample"]["prompts"][number];

/** Warmup as sd-scripts reads it: a count, or a ratio (< 1) of the total optimizer steps. */
export function warmupSteps(value: number, totalSteps: number): number {
  return value < 1 && value > 0 ? Math.floor(value * totalSteps) : Math.round(value);
}

/**
 * The engine's spec for one run: every default resolved, every path absolute, the plan's images and
 * batches included. `metadata` holds the ss_* keys only the TypeScript side knows (dataset, captions).
 */
export function buildTrainSpec(
  config: TrainConfig,
  plan: TrainPlan,
  context: {
    arch: Arch;
    metadata: Record<string, string>;
    prompts: SamplePrompt[];
    resume: string | null;
    /** Saved into each state (train_state.json) for the resume check; null: none. */
    runRecord: RunRecord | null;
  },
): TrainSpec {
  const sampling = config.sample_prompts !== undefined && config.sample_prompts !== null;
  const spec: TrainSpec = {
    version: 1,
    model: {
      path: resolve(config.pretrained_model_name_or_path),
      arch: context.arch,
      v_prediction: config.v_parameterization ?? null,
      vae_path: config.vae ? resolve(config.vae) : null,
    },
    output: {
      dir: resolve(config.output_dir),
      name: config.output_name,
      save_every_n_epochs: config.save_every_n_epochs,
      save_every_n_steps: config.save_every_n_steps,
      save_state: config.save_state,
      save_precision: config.save_precision,
      metadata: context.metadata,
    },
    network: networkSpec(config, context.arch),
    optimizer: optimizerSpec(config, context.arch),
    scheduler: {
      type: schedulerType(config),
      warmup_steps: warmupSteps(config.lr_warmup_steps, plan.totalSteps),
      num_cycles: config.lr_scheduler_num_cycles,
      power: config.lr_scheduler_power,
    },
    training: {
      device: config.device,
      mixed_precision: config.mixed_precision,
      gradient_checkpointing: config.gradient_checkpointing,
      gradient_accumulation_steps: config.gradient_accumulation_steps,
      num_processes: plan.numProcesses,
      cache_latents: config.cache_latents || config.cache_latents_to_disk,
      cache_latents_to_disk: config.cache_latents_to_disk,
      // SDXL's original VAE overflows in fp16: keep it in float32 unless the run is all float32 anyway.
      vae_fp32: config.no_half_vae || (context.arch === "sdxl" && config.mixed_precision === "fp16"),
      clip_skip: config.clip_skip,
      max_token_length: config.max_token_length,
      seed: config.seed,
      noise_offset: config.noise_offset,
      epochs: plan.numEpochs,
      total_steps: plan.totalSteps,
    },
    loss: lossSpec(config),
    images: plan.images,
    epochs: plan.epochs,
    sample: {
      prompts: sampling ? context.prompts : [],
      every_n_epochs: sampling ? config.sample_every_n_epochs : 0,
      every_n_steps: sampling ? config.sample_every_n_steps : 0,
      at_start: sampling && config.sample_at_first,
    },
    validation: {
      images: plan.validation,
      every_n_steps: plan.validation.length > 0 ? config.validate_every_n_steps : 0,
      timesteps: plan.validation.length > 0 ? validationTimesteps() : [],
    },
    pivotal: null, // filled in by applyPivotal when pivotal_tuning is on
    resume: context.resume,
    run_record: context.runRecord,
  };
  checkTextCacheSpec(config, spec);
  return applyPivotal(config, spec);
}
