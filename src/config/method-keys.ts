import { z } from "zod";
import type { KeyDef } from "./key-kinds.ts";
import { bool, choice, custom, int, num, optionalNum } from "./key-kinds.ts";
import { OPTIMIZER_TYPES } from "./optimizer-args.ts";

/**
 * Training-method keys: optimizer choice, schedule, noise and loss options, spelled as sd-scripts spells
 * them (library/train_util.py, library/custom_train_functions.py). Every default keeps plain training:
 * no offset, no pyramid noise, no re-weighting, L2 loss over all 1000 timesteps.
 */

export const LR_SCHEDULERS = [
  "constant",
  "constant_with_warmup",
  "linear",
  "cosine",
  "cosine_with_restarts",
  "polynomial",
] as const;

const ADAFACTOR_SCHEDULE = /^adafactor(?::(.+))?$/;

/** "adafactor" or "adafactor:<lr>" -> the initial lr shown before Adafactor's first step (null: none given). */
export function adafactorScheduleLr(value: string): number | null | undefined {
  const match = ADAFACTOR_SCHEDULE.exec(value);
  if (!match) return undefined;
  return match[1] === undefined ? null : Number(match[1]);
}

const schedulerSchema = z.string().refine(
  (value) => {
    if ((LR_SCHEDULERS as readonly string[]).includes(value)) return true;
    const lr = adafactorScheduleLr(value);
    return lr === null || (lr !== undefined && Number.isFinite(lr) && lr > 0);
  },
  { message: `must be one of ${LR_SCHEDULERS.join(", ")}, adafactor or adafactor:<lr>` },
);

export const METHOD_KEYS = {
  optimizer_type: choice(
    OPTIMIZER_TYPES,
    "AdamW",
    "optimizer; the 8bit ones keep 8-bit state (bitsandbytes; CUDA); Prodigy and DAdaptAdam set their own step " +
      "size (learning_rate defaults to 1.0 with them); Adafactor uses its relative step unless relative_step=False",
  ),
  lr_scheduler: custom(
    schedulerSchema,
    "constant",
    "how the learning rate changes over the run; adafactor[:<lr>] goes with Adafactor's relative step " +
      "(chosen automatically then) and AdamWScheduleFree needs constant",
    `${LR_SCHEDULERS.join(" | ")} | adafactor[:<lr>]`,
  ),
  noise_offset_random_strength: bool(false, "draw the noise offset in [0, noise_offset) each step"),
  adaptive_noise_scale: optionalNum(
    "add |latent channel mean| x this to noise_offset (needs noise_offset; unset: off)",
  ),
  multires_noise_iterations: int(0, "multires (pyramid) noise levels; 6-10 is typical (0: off)", { min: 0 }),
  multires_noise_discount: num(0.3, "weight of each coarser multires noise level", { min: 0, max: 1 }),
  zero_terminal_snr: bool(
    false,
    "rescale the noise schedule so the last timestep is pure noise (v-prediction)",
  ),
  min_snr_gamma: optionalNum("min-SNR loss weighting gamma; 5 is the paper's (unset: off)", { gt: 0 }),
  debiased_estimation_loss: bool(false, "weight the loss by 1/sqrt(SNR) (v-prediction: 1/(SNR+1))"),
  loss_type: choice(["l2", "l1", "huber", "smooth_l1"], "l2", "loss between prediction and target"),
  huber_schedule: choice(
    ["snr", "exponential", "constant"],
    "snr",
    "how huber_c varies with the timestep (huber/smooth_l1)",
  ),
  huber_c: num(0.1, "Huber loss threshold (huber/smooth_l1)", { gt: 0 }),
  huber_scale: num(1.0, "Huber threshold scale for the exponential and constant schedules", { gt: 0 }),
  min_timestep: int(0, "smallest timestep trained (0-999)", { min: 0, max: 999 }),
  max_timestep: int(1000, "timesteps are drawn below this (1-1000)", { min: 1, max: 1000 }),
  masked_loss: bool(
    false,
    "weight the loss by each image's alpha channel (transparent parts are not learned)",
  ),
} satisfies Record<string, KeyDef>;
