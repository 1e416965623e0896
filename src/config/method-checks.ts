import { optimizerArgsFor } from "./optimizer-args.ts";
import { adafactorScheduleLr } from "./method-keys.ts";
import type { TrainConfig } from "./schema.ts";

/** Adafactor computes its own lr unless relative_step=False (warmup_init forces it on, as in sd-scripts). */
export function adafactorRelativeStep(config: TrainConfig): boolean {
  if (config.optimizer_type !== "Adafactor") return false;
  const args = optimizerArgsFor("Adafactor", config.optimizer_args);
  return args.relative_step !== false || args.warmup_init === true;
}

/** Conflicts between these keys: [message, hint] for the first one, or undefined. */
export function methodConflict(config: TrainConfig): [string, string] | undefined {
  const type = config.optimizer_type;
  try {
    optimizerArgsFor(type, config.optimizer_args);
  } catch (error) {
    return [`optimizer_args: ${(error as Error).message}`, `fix or remove it for optimizer_type ${type}`];
  }
  const adafactorSchedule = adafactorScheduleLr(config.lr_scheduler) !== undefined;
  if (adafactorSchedule && type !== "Adafactor")
    return [
      `lr_scheduler ${config.lr_scheduler} needs optimizer_type Adafactor`,
      "choose another lr_scheduler",
    ];
  if (adafactorSchedule && !adafactorRelativeStep(config))
    return [
      `lr_scheduler ${config.lr_scheduler} needs Adafactor's relative step, but optimizer_args set relative_step=False`,
      "remove relative_step=False, or choose e.g. constant_with_warmup with a learning_rate",
    ];
  if (type === "AdamWScheduleFree" && config.lr_scheduler !== "constant")
    return [
      `AdamWScheduleFree replaces the schedule, but lr_scheduler is ${config.lr_scheduler}`,
      "set lr_scheduler constant; for a warmup use optimizer_args warmup_steps=N",
    ];
  if (config.min_timestep >= config.max_timestep)
    return [
      `min_timestep ${config.min_timestep} is not below max_timestep ${config.max_timestep}`,
      "timesteps are drawn from min_timestep up to max_timestep - 1",
    ];
  if (config.adaptive_noise_scale !== null && !config.noise_offset)
    return [
      "adaptive_noise_scale needs noise_offset",
      "set noise_offset (e.g. 0.05) or unset adaptive_noise_scale",
    ];
  return undefined;
}
