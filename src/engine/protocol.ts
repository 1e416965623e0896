import { z } from "zod";

/**
 * The engine protocol: `python -m danlu_engine <command> <spec.json>` writes one JSON object per line to
 * stdout, each with an `event` field naming one of the schemas below. stderr is plain log text.
 * engine/danlu_engine/protocol.py defines the same events; protocol.test.ts keeps the two in step.
 */

export const ENGINE_ERROR_CODES = [
  "OUT_OF_MEMORY",
  "NAN_LOSS",
  "FILE_NOT_FOUND",
  "BAD_MODEL",
  "UNSUPPORTED_ARCH",
  "BAD_SPEC",
  "BAD_IMAGE",
  "OPTIMIZER_UNAVAILABLE",
  "DEVICE_UNAVAILABLE",
  "RESUME_MISMATCH",
  "BAD_LORA",
  "INTERNAL",
] as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

export const PHASES = ["load_model", "cache_latents", "cache_text", "train", "sample", "save"] as const;

export const readyEvent = z.strictObject({
  event: z.literal("ready"),
  engine_version: z.string(),
  torch_version: z.string(),
  device: z.string(), // "cpu", "cuda:0", ...
  dtype: z.string(), // the compute dtype: "float32", "bfloat16", "float16"
  pid: z.number().int(),
});

export const phaseEvent = z.strictObject({
  event: z.literal("phase"),
  name: z.enum(PHASES),
  current: z.number().int().nonnegative().nullable(), // items done in this phase, when countable
  total: z.number().int().nonnegative().nullable(),
});

export const progressEvent = z.strictObject({
  event: z.literal("progress"),
  step: z.number().int().nonnegative(), // optimizer steps done (1-based after the first step)
  total_steps: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(), // 1-based epoch the step belongs to
  loss: z.number(), // this step's loss (mean over the batch and accumulation)
  lr: z.number(), // the first param group's learning rate after this step
  it_per_s: z.number().nonnegative(), // optimizer steps per second, smoothed
  images_per_s: z.number().nonnegative(),
  memory_mb: z.number().nonnegative().nullable(), // peak accelerator memory in MiB; null on the CPU
  elapsed_s: z.number().nonnegative(), // since the first training step began
});

export const logEvent = z.strictObject({
  event: z.literal("log"),
  level: z.enum(["debug", "info", "warning", "error"]),
  message: z.string(),
});

export const checkpointEvent = z.strictObject({
  event: z.literal("checkpoint"),
  kind: z.enum(["epoch", "step", "final", "state"]), // state = a resumable training state folder
  path: z.string(),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
});

export const sampleEvent = z.strictObject({
  event: z.literal("sample"),
  path: z.string(),
  prompt_index: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
});

export const validationEvent = z.strictObject({
  event: z.literal("validation"),
  step: z.number().int().nonnegative(), // optimizer steps done when it was measured (0: before training)
  epoch: z.number().int().nonnegative(), // the epoch of that step (0: before training)
  loss: z.number(), // mean loss over the validation images x fixed timesteps, with fixed noise
  images: z.number().int().nonnegative(),
});

export const resultEvent = z.strictObject({
  event: z.literal("result"),
  data: z.record(z.string(), z.unknown()), // the command's answer (model info, files written, ...)
});

/** train-many: one job's event (any other kind; parse it with engineEvent), tagged with the job's id. */
export const jobEvent = z.strictObject({
  event: z.literal("job"),
  id: z.string(),
  data: z.record(z.string(), z.unknown()),
});

export const doneEvent = z.strictObject({
  event: z.literal("done"),
  outputs: z.array(z.string()), // every file the command wrote, in order
  steps: z.number().int().nonnegative(),
  elapsed_s: z.number().nonnegative(),
});

export const cancelledEvent = z.strictObject({
  event: z.literal("cancelled"),
  state_dir: z.string().nullable(), // where the resumable state was saved; null if nothing to save yet
  step: z.number().int().nonnegative(),
});

export const errorEvent = z.strictObject({
  event: z.literal("error"),
  code: z.enum(ENGINE_ERROR_CODES),
  message: z.string(),
  detail: z.string().nullable(), // e.g. the Python traceback for INTERNAL
});

/** Serve mode only: where the job's base model came from (the warm cache: hit; else loaded). */
export const modelCacheEvent = z.strictObject({
  event: z.literal("model_cache"),
  hit: z.boolean(),
  path: z.string(),
  load_s: z.number().nonnegative(), // seconds to get the model: a lookup on a hit, the load on a miss
  models: z.number().int().nonnegative(), // base models the cache holds now
  memory_mb: z.number().nonnegative(), // their parameters, MiB
});

/** Serve mode only: ready for the next request; first at start (exit_code null), then after each job. */
export const idleEvent = z.strictObject({
  event: z.literal("idle"),
  exit_code: z.number().int().nullable(), // the job's: 0 done, 1 error, 3 cancelled (as one-shot's exit codes)
  models: z.number().int().nonnegative(),
  memory_mb: z.number().nonnegative(),
  budget_mb: z.number().nonnegative(),
  pid: z.number().int(),
});

export const engineEvent = z.discriminatedUnion("event", [
  readyEvent,
  phaseEvent,
  progressEvent,
  logEvent,
  checkpointEvent,
  sampleEvent,
  validationEvent,
  resultEvent,
  jobEvent,
  doneEvent,
  cancelledEvent,
  errorEvent,
  modelCacheEvent,
  idleEvent,
]);
export type EngineEvent = z.infer<typeof engineEvent>;
export type ProgressEvent = z.infer<typeof progressEvent>;
export type ValidationEvent = z.infer<typeof validationEvent>;

/** Exit codes of `python -m danlu_engine`. */
export const ENGINE_EXIT = {
  OK: 0,
  ERROR: 1, // an error event was written first
  USAGE: 2, // bad command line or unreadable spec
  CANCELLED: 3, // SIGTERM/SIGINT: state saved, cancelled event written
} as const;
