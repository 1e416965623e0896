import { prefer, s, set, type PresetDefinition } from "./types.ts";

/** An anime character from ~20 images, as guide 001 trained one (its lora-scripts parameters). */
export const CHARACTER: PresetDefinition = {
  name: "character",
  summary:
    "an anime character from about 20 images (angles, full body, close-ups), SD1.5 anime base (guide 001)",
  groups: [
    set(
      "resolution",
      [768, 768],
      "guide 001: 768,768; 512 works, below 512 is clearly worse, >1024 gains nothing",
    ),
    set("enable_bucket", true, "guide 001: --enable_bucket"),
    set("min_bucket_reso", 256, "guide 001: min_bucket_reso = 256"),
    set("max_bucket_reso", 1024, "guide 001: max_bucket_reso = 1024"),
    set("caption_extension", ".txt", "guide 001: --caption_extension=.txt"),
    set("shuffle_caption", true, "guide 001: --shuffle_caption (booru tags carry no order)"),
    set(
      "keep_tokens",
      1,
      "guide 001 puts the trigger word first; keeping 1 tag in place keeps it first while the rest shuffle",
    ),
    set("max_token_length", 225, "guide 001: --max_token_length=225 (long tag lists are not cut at 75)"),
    set(
      "network_dim",
      64,
      "guide 001: dim 64 (usually 4-128; bigger is not better, smaller resists overfitting)",
    ),
    set("network_alpha", 32, "guide 001: alpha 32, half the dim (a smaller alpha needs a higher lr)"),
    prefer(
      [
        s("optimizer_type", "Lion", "guide 001 uses Lion: it generalised better in the author's tests"),
        s("learning_rate", 5e-5, "guide 001: lr 5e-5 (with Lion)"),
        s("unet_lr", 5e-5, "guide 001: unet_lr 5e-5 (with Lion)"),
        s("text_encoder_lr", 6e-6, "guide 001: text_encoder_lr 6e-6 (with Lion)"),
      ],
      [
        s("optimizer_type", "AdamW", "guide 001 uses Lion, which danlu lacks yet: AdamW is the nearest"),
        s(
          "learning_rate",
          1e-4,
          "guide 003's starting lr for AdamW (guide 001's 5e-5 was for Lion, which wants lower rates)",
        ),
        s("unet_lr", 1e-4, "guide 003: UNet 1e-4 is a good start (guide 001's 5e-5 was for Lion)"),
        s("text_encoder_lr", 5e-5, "guide 003: text encoder 5e-5 (guide 001's 6e-6 was for Lion)"),
      ],
    ),
    set("lr_scheduler", "cosine_with_restarts", "guide 001: --lr_scheduler=cosine_with_restarts"),
    set("lr_scheduler_num_cycles", 1, "guide 001: lr_restart_cycles = 1"),
    set("lr_warmup_steps", 50, "guide 001: --lr_warmup_steps=50"),
    set("train_batch_size", 2, "guide 001: batch 2 ('if the GPU can, do not use 1')"),
    set("max_train_epochs", 10, "guide 001: 10 epochs, one file each, then pick one from an X/Y grid"),
    set("save_every_n_epochs", 1, "guide 001: save every epoch (it chose epoch 8 of 10)"),
    set("clip_skip", 2, "guide 001: anime models descend from NovelAI, which used clip skip 2"),
    set("mixed_precision", "fp16", "guide 001: --mixed_precision=fp16"),
    set("save_precision", "fp16", "guide 001: --save_precision=fp16"),
    set("seed", 1337, "guide 001: --seed=1337"),
    set("cache_latents", true, "guide 001: --cache_latents"),
    set("prior_loss_weight", 1, "guide 001: --prior_loss_weight=1 (for regularization images, if any)"),
  ],
  advice: [
    {
      topic: "images",
      text: "about 20 images: varied angles, full body and close-ups, matted if possible (guide 001)",
    },
    {
      topic: "repeats",
      text: "folder 2_TRIGGER: 20 images x 2 repeats x 10 epochs / batch 2 = 200 steps (guide 001)",
    },
    {
      topic: "captions",
      text: "WD14/deepbooru tags; delete the character's fixed traits, put the trigger word first (guide 001)",
    },
    { topic: "base model", text: "an anime base close to NovelAI/ACertainty trains best (guides 001, 003)" },
  ],
};
