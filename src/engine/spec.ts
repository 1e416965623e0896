import { z } from "zod";
import { genControlNet, genHires, genInpaint } from "./spec-generate.ts";
import { specNetwork } from "./spec-network.ts";

/**
 * The spec files TypeScript writes for the engine (`python -m danlu_engine <command> <spec.json>`).
 * Everything here is already resolved: no defaults are applied on the Python side, and the Python
 * readers (engine/danlu_engine/spec.py) reject unknown or missing keys. Paths are absolute.
 */

export const ARCHS = ["sd15", "sd2", "sdxl"] as const;
export type Arch = (typeof ARCHS)[number];

export const makeTinySpec = z.strictObject({
  version: z.literal(1),
  arch: z.enum(["sd15", "sd2", "sdxl"]),
  out: z.string(), // a folder (diffusers layout) or, with single_file, a .safetensors path
  single_file: z.boolean(),
  inpainting: z.boolean(), // a 9-input-channel UNet (an inpainting checkpoint)
  seed: z.number().int(),
  controlnet: z.boolean().optional(), // a tiny ControlNet for the tiny UNet of arch instead of a model (default false)
});

export const modelInfoSpec = z.strictObject({
  version: z.literal(1),
  path: z.string(),
});

/** One image the plan uses; the index into `images` is how batches refer to it. */
export const specImage = z.strictObject({
  path: z.string(),
  width: z.number().int().positive(), // the file's size after EXIF orientation
  height: z.number().int().positive(),
  bucket: z.tuple([z.number().int(), z.number().int()]), // [w, h] the engine trains it at
  resized: z.tuple([z.number().int(), z.number().int()]), // [w, h] after the resize that covers the bucket
  crop: z.tuple([z.number().int(), z.number().int()]), // [left, top] of the bucket inside `resized`
  flip: z.boolean(), // flip_aug: the engine may also train the mirrored image
  is_reg: z.boolean(),
  loss_weight: z.number(), // 1.0, or prior_loss_weight for regularization images
});

/** One micro-batch: image indices with the caption each gets at this step (after shuffle/dropout). */
export const specBatch = z.strictObject({
  images: z.array(z.number().int().nonnegative()).min(1),
  captions: z.array(z.string()),
});

export const samplePrompt = z.strictObject({
  prompt: z.string(),
  negative_prompt: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  seed: z.number().int(),
  steps: z.number().int().positive(),
  scale: z.number(),
  sampler: z.string(), // a diffusers scheduler family name: "ddim", "euler", "euler_a", "dpmsolver++", ...
});

export const OPTIMIZER_TYPES = [
  "AdamW",
  "AdamW8bit",
  "Lion",
  "Lion8bit",
  "Prodigy",
  "Adafactor",
  "DAdaptAdam",
  "AdamWScheduleFree",
] as const;
export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
export const optimizerArgValue = z.union([z.number(), z.boolean(), z.array(z.number())]);

/** Noise, timestep and loss options, named as in sd-scripts (engine: train/noise.py, train/step.py). */
export const specLoss = z.strictObject({
  noise_offset_random_strength: z.boolean(), // the offset is drawn in [0, noise_offset) per micro-batch
  adaptive_noise_scale: z.number().nullable(), // adds |latent channel mean| x this to the offset
  multires_noise_iterations: z.number().int().nonnegative(), // 0: off
  multires_noise_discount: z.number(),
  zero_terminal_snr: z.boolean(), // rescale the betas so the last timestep has SNR 0
  min_snr_gamma: z.number().positive().nullable(),
  debiased_estimation_loss: z.boolean(),
  loss_type: z.enum(["l1", "l2", "huber", "smooth_l1"]),
  huber_schedule: z.enum(["constant", "exponential", "snr"]),
  huber_c: z.number().positive(),
  huber_scale: z.number().positive(),
  min_timestep: z.number().int().nonnegative(),
  max_timestep: z.number().int().positive(), // exclusive
  masked_loss: z.boolean(), // weight the loss by each image's alpha channel
});

/** A file or folder and its identity (size + sampled bytes: src/training/class-images.ts modelFingerprint). */
const identifiedFile = z.strictObject({ path: z.string(), id: z.string() });

/**
 * What a run is, recorded in every state it saves (train_state.json "run") so that a resume can say what
 * changed (src/training/resume-check.ts). The engine writes it as given and never reads it.
 */
export const runRecord = z.strictObject({
  version: z.literal(1),
  arch: z.enum(ARCHS),
  // every config key that changes what is trained, by its config name (src/training/resume-record.ts)
  settings: z.record(z.string(), z.json()),
  base_model: identifiedFile,
  vae: identifiedFile.nullable(),
  dataset: z.strictObject({
    // "{name}" or "reg/{name}" (the folder name without its "{repeats}_")
    folders: z.record(z.string(), z.strictObject({ repeats: z.number().int().nonnegative() })),
    // "{folder}/{path in the folder}": the file's identity and its caption's sha256 (before per-step changes)
    images: z.record(z.string(), z.strictObject({ file: z.string(), caption: z.string() })),
  }),
  length: z.strictObject({
    max_train_epochs: z.number().int().nullable(),
    max_train_steps: z.number().int(),
    max_train_steps_per_image: z.number().int().nullable(),
    steps_per_epoch: z.number().int().positive(),
    epochs: z.number().int().nonnegative(),
    total_steps: z.number().int().nonnegative(),
  }),
});
export type RunRecord = z.infer<typeof runRecord>;

export const trainSpec = z.strictObject({
  version: z.literal(1),
  model: z.strictObject({
    path: z.string(), // single-file checkpoint or diffusers folder
    arch: z.enum(ARCHS).nullable(), // null: detect from the file
    v_prediction: z.boolean().nullable(), // null: detect (SD2 768-v) / default epsilon
    vae_path: z.string().nullable(),
  }),
  output: z.strictObject({
    dir: z.string(),
    name: z.string(),
    save_every_n_epochs: z.number().int().nonnegative(), // 0: only the final file
    save_every_n_steps: z.number().int().nonnegative(), // 0: never by steps
    save_state: z.boolean(), // also write {name}-{epoch:06d}-state/ at each epoch save
    save_precision: z.enum(["float", "fp16", "bf16"]),
    metadata: z.record(z.string(), z.string()), // ss_* keys known before training (TS side)
  }),
  network: specNetwork, // spec-network.ts
  optimizer: z.strictObject({
    type: z.enum(OPTIMIZER_TYPES),
    unet_lr: z.number().nonnegative(),
    text_encoder_lr: z.number().nonnegative(),
    text_encoder_lr2: z.number().nonnegative(), // SDXL's second text encoder (== text_encoder_lr unless set)
    // weight_decay, betas, eps: what AdamW and AdamW8bit use (danlu's defaults unless optimizer_args say)
    weight_decay: z.number().nonnegative(),
    betas: z.tuple([z.number(), z.number()]),
    eps: z.number().positive(),
    max_grad_norm: z.number().nonnegative(), // 0: no clipping
    // the optimizer_args given, checked for this optimizer; the rest keep the package's defaults
    args: z.record(z.string(), optimizerArgValue),
  }),
  scheduler: z.strictObject({
    type: z.enum([
      "constant",
      "constant_with_warmup",
      "linear",
      "cosine",
      "cosine_with_restarts",
      "polynomial",
      "adafactor", // Adafactor's relative step reports its own lr (sd-scripts' adafactor:<lr>)
    ]),
    warmup_steps: z.number().int().nonnegative(),
    num_cycles: z.number().int().positive(),
    power: z.number().positive(),
  }),
  training: z.strictObject({
    device: z.enum(["auto", "cpu", "cuda"]),
    mixed_precision: z.enum(["no", "fp16", "bf16"]),
    gradient_checkpointing: z.boolean(),
    gradient_accumulation_steps: z.number().int().positive(),
    // the processes the plan is made for (the engine checks that as many started): each optimizer step takes
    // num_processes x gradient_accumulation_steps micro-batches, every process its own
    num_processes: z.number().int().positive(),
    cache_latents: z.boolean(),
    cache_latents_to_disk: z.boolean(),
    vae_fp32: z.boolean(), // keep the VAE in float32 (SDXL's VAE overflows in fp16)
    clip_skip: z.number().int().positive(),
    max_token_length: z.union([z.literal(75), z.literal(150), z.literal(225)]),
    seed: z.number().int(),
    noise_offset: z.number().nonnegative(),
    epochs: z.number().int().positive(),
    // optimizer steps over the whole run: per epoch, ceil(micro-batches / (accumulation x processes))
    total_steps: z.number().int().positive(),
  }),
  loss: specLoss,
  images: z.array(specImage).min(1),
  // epochs[e] is the ordered list of micro-batches of epoch e+1; optimizer steps group
  // `gradient_accumulation_steps` x `num_processes` consecutive micro-batches of an epoch (its last step takes
  // what is left). A run cut by max_train_steps has a short last epoch.
  epochs: z.array(z.array(specBatch)).min(1),
  sample: z.strictObject({
    prompts: z.array(samplePrompt),
    every_n_epochs: z.number().int().nonnegative(), // 0: never by epochs
    every_n_steps: z.number().int().nonnegative(),
    at_start: z.boolean(), // sample once before the first step (a baseline)
  }),
  // The validation loss: these images (indices into `images`, in no batch), each scored at every one of
  // `timesteps` with noise fixed per image, at each epoch end and every `every_n_steps` steps (0: epoch ends
  // only). No images: no validation.
  validation: z.strictObject({
    images: z.array(z.strictObject({ image: z.number().int().nonnegative(), caption: z.string() })),
    every_n_steps: z.number().int().nonnegative(),
    timesteps: z.array(z.number().int().nonnegative()),
  }),
  // Pivotal tuning (engine/danlu_engine/train/pivotal.py): `tokens` (e.g. <s0>, <s1>) are added to every
  // text encoder and already stand in the captions and sample prompts in place of the trigger; their rows
  // train with AdamW at `lr` for the first `train_steps` optimizer steps. null: off.
  pivotal: z
    .strictObject({
      tokens: z.array(z.string().min(1)).min(1),
      init_word: z.string(), // "": random init (normal x the table's std); else copied from its tokens
      lr: z.number().positive(),
      train_steps: z.number().int().nonnegative(),
    })
    .nullable(),
  resume: z.string().nullable(), // a state folder written by an earlier run of this same spec
  run_record: runRecord.nullable(), // saved into each state as given; null: nothing to record
});
export type TrainSpec = z.infer<typeof trainSpec>;

/**
 * `train-many` (engine/danlu_engine/commands/train_many.py): several ordinary train specs on one base model,
 * trained together; each job's events come back inside `job` events with its id. The engine refuses what it
 * cannot batch (text encoder LoRA, dropouts, other kinds than lora/locon, several buckets, sampling, ...).
 */
export const trainManySpec = z.strictObject({
  version: z.literal(1),
  slots: z.number().int().positive(), // jobs trained at once; later ones wait for a free slot
  mode: z.enum(["bmm", "loop"]), // bmm: batched matmuls over the jobs' adapters; loop: each job's own module
  jobs: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        join_at_step: z.number().int().nonnegative(), // the pass before which it joins (0: at the start)
        spec: trainSpec,
      }),
    )
    .min(1),
});
export type TrainManySpec = z.infer<typeof trainManySpec>;
export type SpecImage = z.infer<typeof specImage>;
export type SpecBatch = z.infer<typeof specBatch>;

/** A run of prompt text with its A1111 attention weight ("(word:1.3)" -> {text: "word", weight: 1.3}). */
export const promptSegment = z.strictObject({ text: z.string(), weight: z.number() });

/**
 * A prompt parsed on the TypeScript side (src/generate/prompt.ts): `sections` are the parts between
 * BREAKs, each a list of weighted segments; the engine tokenizes each section into 75-token chunks
 * (a section always starts a new chunk). `text` is the prompt as the user wrote it (for the PNG text).
 */
export const parsedPrompt = z.strictObject({
  text: z.string(),
  sections: z.array(z.array(promptSegment)).min(1),
});

/** A LoRA or LyCORIS file applied to one job; weights multiply alpha/rank (0: no effect). */
export const genLora = z.strictObject({
  path: z.string(),
  name: z.string(), // for the PNG's "Lora hashes" and messages
  unet_weight: z.number(),
  te_weight: z.number(),
});

/**
 * One txt2img/img2img/inpaint job: batch_count x batch_size images, seeds seed, seed+1, ... Each optional
 * feature is one nullable block (spec-generate.ts).
 */
export const genJob = z.strictObject({
  prompt: parsedPrompt,
  negative: parsedPrompt,
  loras: z.array(genLora),
  sampler: z.string(), // an A1111 name: "DPM++ 2M Karras", "Euler a", ... (engine/danlu_engine/generate/samplers.py)
  steps: z.number().int().positive(),
  cfg: z.number(),
  width: z.number().int().positive(), // multiples of 8
  height: z.number().int().positive(),
  seed: z.number().int().nonnegative(),
  batch_count: z.number().int().positive(),
  batch_size: z.number().int().positive(),
  clip_skip: z.number().int().positive(),
  init_image: z.string().nullable(), // img2img when set
  strength: z.number().min(0).max(1), // img2img denoising strength (ignored for txt2img)
  file_prefix: z.string(), // images are {output.dir}/{file_prefix}-{seed}.png (unique per job)
  inpaint: genInpaint.nullable(), // with init_image: repaint the mask only
  hires: genHires.nullable(), // txt2img only
  controlnets: z.array(genControlNet), // ControlNet units in order (txt2img, img2img, hires fix)
});

export const generateSpec = z.strictObject({
  version: z.literal(1),
  model: z.strictObject({
    path: z.string(),
    arch: z.enum(ARCHS).nullable(),
    v_prediction: z.boolean().nullable(),
    vae_path: z.string().nullable(),
  }),
  device: z.enum(["auto", "cpu", "cuda"]),
  precision: z.enum(["no", "fp16", "bf16"]), // "no": float32 weights
  embeddings: z.array(z.string()), // textual-inversion files; each is used in prompts by its file name
  output: z.strictObject({ dir: z.string() }),
  jobs: z.array(genJob).min(1), // one model load, many jobs (a grid is one generate run)
});
export type GenerateSpec = z.infer<typeof generateSpec>;
export type GenJob = z.infer<typeof genJob>;
export type GenLora = z.infer<typeof genLora>;
export type ParsedPrompt = z.infer<typeof parsedPrompt>;
