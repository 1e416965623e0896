import { z } from "zod";
import type { KeyDef } from "./key-kinds.ts";
import { CLASS_IMAGE_KEYS } from "./class-image-keys.ts";
import { NETWORK_KEYS } from "./network-keys.ts";
import { PIVOTAL_KEYS } from "./pivotal-keys.ts";
import {
  bool,
  choice,
  detectBool,
  int,
  num,
  optionalInt,
  optionalNum,
  optionalStr,
  requiredPath,
  str,
} from "./key-kinds.ts";
import { METHOD_KEYS } from "./method-keys.ts";
import {
  maxTokenLengthKey,
  optimizerArgsKey,
  resolutionKey,
  sampleSamplerKey,
  warmupKey,
} from "./special-keys.ts";

/**
 * Every training setting, its default and its description: the one place they live. Keys are spelled
 * like kohya sd-scripts' arguments (flat, snake_case) where sd-scripts has one, so a kohya user
 * recognises them; defaults differ from sd-scripts only where the LoRA guides do otherwise (noted).
 */
export const TRAIN_KEYS = {
  // model
  pretrained_model_name_or_path: requiredPath(
    "base model: a .safetensors/.ckpt checkpoint or a diffusers folder",
  ),
  v2: detectBool("the base model is SD 2.x"),
  sdxl: detectBool("the base model is SDXL"),
  v_parameterization: detectBool("the model predicts v (SD2 768-v), not noise"),
  vae: optionalStr(
    "a separate VAE file or folder to use instead of the model's own (LDM or diffusers layout; for SDXL " +
      "e.g. the fp16-fix VAE, sdxl-vae-fp16-fix)",
    "path",
  ),
  // dataset
  // Required unless a kohya dataset config gives the folders as subsets (resolveTrainConfig checks).
  train_data_dir: optionalStr(
    "required: folder of {repeats}_{name} subfolders of training images (unless a kohya dataset config lists them)",
    "path",
  ),
  reg_data_dir: optionalStr("regularization images, laid out like train_data_dir", "path"),
  caption_extension: str(
    ".txt",
    'caption file extension beside each image (sd-scripts defaults to ".caption")',
  ),
  resolution: resolutionKey,
  enable_bucket: bool(true, "aspect-ratio buckets (sd-scripts: off unless given; the guides turn it on)"),
  min_bucket_reso: int(256, "smallest bucket side in px", { min: 64 }),
  max_bucket_reso: int(1024, "largest bucket side in px", { min: 64 }),
  bucket_reso_steps: int(64, "bucket sides are multiples of this (64; SDXL allows 32)", { min: 8 }),
  bucket_no_upscale: bool(false, "no predefined buckets: small images are cropped, never enlarged"),
  prior_loss_weight: num(1.0, "loss weight of regularization images", { min: 0 }),
  ...CLASS_IMAGE_KEYS, // class_images_target, class_prompt, ... (class-image-keys.ts)
  // validation
  validation_split: num(0, "fraction of the training images held out for a validation loss (0: none)", {
    min: 0,
    max: 0.5,
  }),
  validation_seed: optionalInt("seed that picks the held-out images (unset: seed)", { min: 0 }),
  validation_data_dir: optionalStr(
    "validation images laid out like train_data_dir (instead of validation_split)",
    "path",
  ),
  validate_every_n_steps: int(
    0,
    "validation loss every N steps, besides each epoch end (0: epoch ends only)",
    {
      min: 0,
    },
  ),
  // captions
  shuffle_caption: bool(false, "shuffle the caption's tags at each step (after the first keep_tokens)"),
  caption_separator: str(",", "separator between tags for shuffle/dropout"),
  keep_tokens: int(0, "number of leading tags never shuffled or dropped (e.g. 1 keeps the trigger word)", {
    min: 0,
  }),
  keep_tokens_separator: str("", 'if set (e.g. "|||"), the tags before it are kept instead of keep_tokens'),
  caption_dropout_rate: num(0, "probability of training a step with an empty caption", { min: 0, max: 1 }),
  caption_tag_dropout_rate: num(0, "probability of dropping each (non-kept) tag", { min: 0, max: 1 }),
  caption_prefix: str("", "text put before every caption"),
  caption_suffix: str("", "text put after every caption"),
  flip_aug: bool(false, "also train on mirrored images (not for asymmetric subjects)"),
  trigger_word: optionalStr("the word that calls the LoRA; recorded as modelspec.trigger_phrase"),
  ...PIVOTAL_KEYS, // pivotal_tuning, pivotal_token, pivotal_num_tokens, pivotal_lr, ... (pivotal-keys.ts)
  // network
  ...NETWORK_KEYS, // network_module, network_args, network_dropout, network_weights (network-keys.ts)
  network_dim: int(32, "LoRA rank (sd-scripts' default 4 is small for a subject; guides use 32-128)", {
    min: 1,
  }),
  network_alpha: num(16, "LoRA alpha; the update is scaled by alpha / dim", { gt: 0 }),
  network_train_unet_only: bool(false, "train the UNet only, not the text encoder(s)"),
  network_train_text_encoder_only: bool(false, "train the text encoder(s) only, not the UNet"),
  // optimizer and schedule
  learning_rate: num(
    1e-4,
    "learning rate for parts without their own (sd-scripts default 2e-6 is for fine-tuning; 1.0 with Prodigy/DAdaptAdam)",
    {
      gt: 0,
    },
  ),
  unet_lr: optionalNum("UNet learning rate (unset: learning_rate)", { min: 0 }),
  text_encoder_lr: optionalNum("text encoder learning rate (unset: learning_rate; guides use about half)", {
    min: 0,
  }),
  text_encoder_lr2: optionalNum(
    "SDXL: the second text encoder's (OpenCLIP bigG, lora_te2_*) learning rate (unset: text_encoder_lr); " +
      "sd-scripts' --text_encoder_lr TE1 TE2",
    { min: 0 },
  ),
  ...METHOD_KEYS, // optimizer_type, lr_scheduler, noise and loss options (method-keys.ts)
  optimizer_args: optimizerArgsKey,
  max_grad_norm: num(1.0, "clip the gradient norm to this (0: no clipping)", { min: 0 }),
  lr_warmup_steps: warmupKey,
  lr_scheduler_num_cycles: int(1, "restarts for cosine_with_restarts", { min: 1 }),
  lr_scheduler_power: num(1, "power of the polynomial scheduler", { gt: 0 }),
  // length and saving
  train_batch_size: int(1, "images per step", { min: 1 }),
  max_train_steps: int(1600, "total optimizer steps (ignored when max_train_epochs is set)", { min: 1 }),
  max_train_epochs: optionalInt("total epochs; overrides max_train_steps", { min: 1 }),
  max_train_steps_per_image: optionalInt(
    "total steps = this x the training images (repeats not counted); replaces max_train_steps (epochs still win)",
    { min: 1 },
  ),
  gradient_accumulation_steps: int(1, "micro-batches per optimizer step", { min: 1 }),
  output_dir: requiredPath("folder for the LoRA files, samples, logs and states"),
  output_name: str("lora", "file name stem: {name}-{epoch:06d}.safetensors and {name}.safetensors"),
  save_every_n_epochs: int(1, "save a LoRA every N epochs (0: only the final file; sd-scripts: unset)", {
    min: 0,
  }),
  save_every_n_steps: int(0, "also save every N steps (0: never)", { min: 0 }),
  save_state: bool(false, "also save a resumable state folder with each epoch save"),
  save_precision: choice(["fp16", "bf16", "float"], "fp16", "precision of the saved LoRA weights"),
  training_comment: optionalStr("a note stored in the file's metadata (ss_training_comment)"),
  // performance and precision
  device: choice(["auto", "cpu", "cuda"], "auto", "where to train (auto: CUDA when available)"),
  num_processes: int(
    1,
    "processes for one run, one per GPU (data parallelism through accelerate launch and PyTorch DDP): " +
      "each process trains its own batches and every optimizer step takes one batch per process, so the " +
      "global batch is num_processes x train_batch_size x gradient_accumulation_steps and the steps per " +
      "epoch are divided by num_processes; the learning rate is not scaled (scale it yourself if wanted)",
    { min: 1, max: 64 },
  ),
  gpu_ids: optionalStr('the GPUs the processes use, e.g. "0,1" (accelerate\'s --gpu_ids; unset: every GPU)'),
  mixed_precision: choice(["no", "fp16", "bf16"], "no", "compute precision (bf16 on recent GPUs; no = fp32)"),
  gradient_checkpointing: bool(false, "trade speed for memory (recompute activations in the backward pass)"),
  cache_latents: bool(false, "encode each image with the VAE once, before training"),
  cache_latents_to_disk: bool(
    false,
    "keep cached latents on disk and reuse them across runs (implies cache_latents)",
  ),
  cache_text_encoder_outputs: bool(
    false,
    "encode each caption once with the frozen text encoder(s) and train from the stored outputs (needs " +
      "network_train_unet_only and fixed captions: no shuffle_caption, caption or tag dropout, pivotal_tuning)",
  ),
  no_half_vae: bool(
    false,
    "keep the VAE in float32 (SDXL's original VAE overflows in fp16; danlu does this by itself for SDXL " +
      "with mixed_precision fp16). A fp16-fix VAE (e.g. sdxl-vae-fp16-fix) can be given with `vae`",
  ),
  clip_skip: int(1, "use the text encoder's output this many layers from the end (2 for anime models)", {
    min: 1,
    max: 12,
  }),
  max_token_length: maxTokenLengthKey,
  seed: int(42, "random seed: the same seed and settings give the same losses (sd-scripts: random)", {
    min: 0,
  }),
  noise_offset: num(0, "noise offset (about 0.05-0.1 helps very dark/bright images; 0: off)", { min: 0 }),
  // samples during training
  sample_prompts: optionalStr(
    "prompt file (sd-scripts syntax: one per line, --n --w --h --d --s --l --ss)",
    "path",
  ),
  sample_every_n_epochs: int(0, "sample every N epochs (0: never)", { min: 0 }),
  sample_every_n_steps: int(0, "sample every N steps (0: never; ignored when sample_every_n_epochs is set)", {
    min: 0,
  }),
  sample_sampler: sampleSamplerKey,
  sample_at_first: bool(false, "sample once before the first step (a baseline)"),
} satisfies Record<string, KeyDef>;

export type TrainKey = keyof typeof TRAIN_KEYS;
export const TRAIN_KEY_NAMES = Object.keys(TRAIN_KEYS) as TrainKey[];

type Defs = typeof TRAIN_KEYS;
type WithDefault<D> = D extends { schema: infer S extends z.ZodType; default: unknown }
  ? z.ZodDefault<S>
  : D extends { schema: infer S extends z.ZodType }
    ? S
    : never;

function buildShape(): { [K in TrainKey]: WithDefault<Defs[K]> } {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, def] of Object.entries(TRAIN_KEYS) as [string, KeyDef][]) {
    const described = def.schema.describe(def.description);
    shape[key] =
      def.default === undefined ? described : (described as z.ZodType).default(def.default as never);
  }
  return shape as { [K in TrainKey]: WithDefault<Defs[K]> };
}

/** The full training config: parse({ required keys }) gives every other key its default. */
export const trainConfig = z.strictObject(buildShape());
export type TrainConfig = z.output<typeof trainConfig>;
/** What one source (a file, the flags, an import) sets: already checked key by key. */
export type TrainConfigLayer = Partial<TrainConfig>;

/** The def of a key name, or undefined for an unknown key. */
export function trainKeyDef(key: string): KeyDef | undefined {
  return Object.hasOwn(TRAIN_KEYS, key) ? (TRAIN_KEYS[key as TrainKey] as KeyDef) : undefined;
}
