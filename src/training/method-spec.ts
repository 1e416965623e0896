import {
  OPTIMIZER_DEFAULTS,
  optimizerArgsFor,
  parseOptimizerArgs,
  type TrainConfig,
} from "../config/index.ts";
import { adafactorRelativeStep } from "../config/method-checks.ts";
import { adafactorScheduleLr } from "../config/method-keys.ts";
import type { Arch, TrainSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";

/**
 * The optimizer, schedule and loss parts of the train spec. sd-scripts' rules carried over: Adafactor
 * with its relative step (the default, or forced by warmup_init) gets the `adafactor` schedule, whose
 * initial lr is the number after `adafactor:` or learning_rate.
 */

export function optimizerSpec(config: TrainConfig, arch: Arch = "sdxl"): TrainSpec["optimizer"] {
  if (config.text_encoder_lr2 != null && arch !== "sdxl") {
    throw new DanluError(`text_encoder_lr2 is set, but this model (${arch}) has one text encoder`, {
      hint: "remove text_encoder_lr2 (it is SDXL's second encoder's rate); text_encoder_lr sets the one encoder's",
    });
  }
  const type = config.optimizer_type;
  const adam = type === "AdamW" || type === "AdamW8bit";
  const settings = adam ? parseOptimizerArgs(config.optimizer_args) : OPTIMIZER_DEFAULTS;
  let unetLr = config.unet_lr ?? config.learning_rate;
  let textLr = config.text_encoder_lr ?? config.learning_rate;
  let textLr2 = config.text_encoder_lr2 ?? textLr;
  if (adafactorRelativeStep(config)) {
    // The relative step ignores both lrs; the spec carries the initial lr the progress line shows.
    const initial = adafactorScheduleLr(config.lr_scheduler) ?? config.learning_rate;
    unetLr = initial;
    textLr = initial;
    textLr2 = initial;
  }
  return {
    type,
    unet_lr: unetLr,
    text_encoder_lr: textLr,
    text_encoder_lr2: textLr2,
    weight_decay: settings.weight_decay,
    betas: [settings.betas[0], settings.betas[1]],
    eps: settings.eps,
    max_grad_norm: config.max_grad_norm,
    args: optimizerArgsFor(type, config.optimizer_args),
  };
}

export function schedulerType(config: TrainConfig): TrainSpec["scheduler"]["type"] {
  if (adafactorRelativeStep(config)) return "adafactor";
  return config.lr_scheduler as TrainSpec["scheduler"]["type"]; // checked by resolveTrainConfig
}

export function lossSpec(config: TrainConfig): TrainSpec["loss"] {
  return {
    noise_offset_random_strength: config.noise_offset_random_strength,
    adaptive_noise_scale: config.adaptive_noise_scale,
    multires_noise_iterations: config.multires_noise_iterations,
    multires_noise_discount: config.multires_noise_discount,
    zero_terminal_snr: config.zero_terminal_snr,
    min_snr_gamma: config.min_snr_gamma,
    debiased_estimation_loss: config.debiased_estimation_loss,
    loss_type: config.loss_type,
    huber_schedule: config.huber_schedule,
    huber_c: config.huber_c,
    huber_scale: config.huber_scale,
    min_timestep: config.min_timestep,
    max_timestep: config.max_timestep,
    masked_loss: config.masked_loss,
  };
}
