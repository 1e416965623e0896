import { set, type PresetDefinition } from "./types.ts";

/**
 * `danlu portrait`: one person from 10-20 cropped selfies on SD1.5, trained fast for a portrait service.
 * Guide 000's person run (800 steps of batch 2, dim 128, text encoder too) is the baseline; this keeps
 * its photo count per step but spends it in half as many, larger steps, trains the UNet only and a
 * smaller network, the way FaceChain/EasyPhoto-style services do (a few minutes per customer).
 */
export const PORTRAIT: PresetDefinition = {
  name: "portrait",
  summary:
    "fast: one person from 10-20 cropped selfies, SD1.5, UNet only, 400 steps (danlu portrait; guides 000, 003 and 004)",
  groups: [
    set("resolution", [512, 512], "guide 000 trains at 512,512 (SD1.5's native size)"),
    set("enable_bucket", true, "guide 000 turns buckets on, so an uncropped photo still trains"),
    set("min_bucket_reso", 256, "guide 000: --min_bucket_reso=256"),
    set("max_bucket_reso", 1024, "guide 003: train below 1024x1024; selfies need no larger bucket"),
    set("bucket_reso_steps", 64, "guide 000: --bucket_reso_steps=64 (SD1.5 needs multiples of 64)"),
    set(
      "bucket_no_upscale",
      false,
      "guide 000 upscales photos under 512 px first; square crops then share one bucket (full batches)",
    ),
    set("caption_extension", ".txt", "guide 000 keeps each caption in image.txt beside image.png"),
    set("network_dim", 32, "guide 004: rank 32 for faces (64 smoothed the skin); a quarter of guide 000's"),
    set("network_alpha", 32, "guide 004's script sets alpha = rank, so the short run is not scaled down"),
    set(
      "network_train_unet_only",
      true,
      "guide 004: the text encoder overfits faster; UNet only also skips its backward (speed)",
    ),
    set(
      "cache_text_encoder_outputs",
      true,
      "guide 000's captions do not change between steps: each is encoded once (frozen text encoder)",
    ),
    set(
      "optimizer_type",
      "AdamW",
      "guide 000's AdamW8bit saves memory; dim-32 UNet-only states are ~0.1 GB: AdamW is faster (fused)",
    ),
    set(
      "learning_rate",
      2e-4,
      "guide 003: double the batch, double the UNet lr (guide 000: 1e-4 at batch 2)",
    ),
    set("unet_lr", 2e-4, "guide 003: double the batch, double the UNet lr (guide 000: 1e-4 at batch 2)"),
    set("lr_scheduler", "cosine", "guide 003 recommends cosine annealing"),
    set("lr_warmup_steps", 0.05, "guide 003: warmup, if any, 5-10% of the steps"),
    set("train_batch_size", 4, "guide 000 uses batch 2 for 16 photos; 4 fills a GPU better at 512 px"),
    set(
      "max_train_steps",
      400,
      "guide 000's 800 steps x batch 2 = 1600 photo views; at batch 4 that is 400 steps (a fixed budget)",
    ),
    set(
      "save_every_n_epochs",
      0,
      "guide 000 saves every epoch to pick one by eye; the portrait service ranks the final file's images",
    ),
    set("min_snr_gamma", 5.0, "guide 004: min-SNR gamma 5.0 balances the timesteps' losses"),
    set(
      "noise_offset",
      0.05,
      "guide 000 used 0.0; 0.05 lets ID-photo white and cyberpunk night backgrounds go fully bright or dark",
    ),
    set("mixed_precision", "bf16", "guide 000: --mixed_precision=bf16"),
    set("save_precision", "bf16", "guide 000: --save_precision=bf16"),
    set("no_half_vae", true, "guide 000: --no_half_vae (the VAE runs once per photo: latents are cached)"),
    set("cache_latents", true, "guide 000: --cache_latents (each photo goes through the VAE once)"),
    set(
      "gradient_checkpointing",
      false,
      "guide 000 fits batch 2 in 7 GB without it; checkpointing costs a forward pass per step",
    ),
    set("clip_skip", 2, "guide 000: clip_skip 2 came out a little better than 1 (generate with it too)"),
    set("seed", 1234, "guide 000: --seed=1234"),
  ],
  advice: [
    {
      topic: "images",
      text: "10-20 selfies of one person, one face each, varied angles, light and clothes; cropped to the head and shoulders (guide 000)",
    },
    {
      topic: "repeats",
      text: "folder 10_NAME or so: max_train_steps fixes the run's length whatever the repeats (guide 000 counts steps = images x repeats x epochs / batch)",
    },
    {
      topic: "captions",
      text: "trigger word and class first ('dlperson woman, ...'); leave out the person's fixed traits (guide 000)",
    },
    { topic: "base model", text: "train on plain SD1.5, generate on a realistic checkpoint (guide 000)" },
  ],
};
