import { prefer, s, set, type PresetDefinition } from "./types.ts";

/** An artist's style from 60-100 images, after guide 002 (kohya_ss, Prodigy) and guide 003's numbers. */
export const STYLE: PresetDefinition = {
  name: "style",
  summary: "one artist's style from 60-100 consistent images, SD1.5 (guides 002 and 003)",
  groups: [
    set("resolution", [768, 768], "guide 003: train above 512x512 and below 1024x1024"),
    set("enable_bucket", true, "guide 003: buckets let paintings of any aspect ratio train uncropped"),
    set("caption_extension", ".txt", "guides 000-002 keep captions in .txt files beside the images"),
    prefer(
      [
        s("network_module", "lycoris.kohya", "guide 003: LoHa controls a style best (LoRA < LoCon < LoHa)"),
        s("network_args", ["algo=loha", "conv_dim=8", "conv_alpha=4"], "guide 003: LoHa for styles"),
        s("network_dim", 32, "guide 002: start from the defaults; LoHa stays at dim <= 32"),
        s("network_alpha", 16, "guide 002: raise dim / lower alpha if unlike, the reverse if overfit"),
      ],
      [
        s(
          "network_dim",
          32,
          "guide 003 prefers LoHa for styles, which danlu lacks yet: plain LoRA at dim 32",
        ),
        s("network_alpha", 16, "guide 002: raise dim / lower alpha if unlike, the reverse if overfit"),
      ],
    ),
    prefer(
      [
        s("optimizer_type", "Prodigy", "guide 002: Prodigy adapts the learning rate by itself"),
        s("learning_rate", 1.0, "guide 002: with Prodigy set lr to 1"),
        s("unet_lr", 1.0, "guide 002: with Prodigy set lr to 1"),
        s("text_encoder_lr", 1.0, "guide 002: with Prodigy set lr to 1"),
      ],
      [
        s("optimizer_type", "AdamW", "guide 002 uses Prodigy, which danlu lacks yet: AdamW is the nearest"),
        s("learning_rate", 1e-4, "guide 003: UNet 1e-4 is a good start (Prodigy would find its own)"),
        s("unet_lr", 1e-4, "guide 003: UNet 1e-4 is a good start"),
        s("text_encoder_lr", 5e-5, "guide 003: text encoder 5e-5 is a good start"),
      ],
    ),
    set(
      "lr_scheduler",
      "cosine_with_restarts",
      "guide 002: cosine with restarts gives more variety in one run",
    ),
    set("lr_scheduler_num_cycles", 3, "guide 003: no more than 4 restarts"),
    set("train_batch_size", 2, "guide 002: batch 2 (VRAM-bound)"),
    set("max_train_steps", 2500, "guide 003: a style needs at least 2500 steps at UNet lr 1e-4"),
    set("save_every_n_epochs", 1, "guide 002: save every epoch and stop when samples start to blur"),
    set("clip_skip", 2, "guide 001: 'usually 2'; guide 003 trains styles on an anime base (AnyLoRA)"),
    set("cache_latents", true, "guides 000 and 001 cache latents (each image through the VAE once)"),
  ],
  advice: [
    {
      topic: "images",
      text: "60-80 images of one consistent style; over 100, split the set (guide 002; 003: at least 100)",
    },
    { topic: "repeats", text: "folder 20_NAME to 30_NAME: 20-30 repeats, not lower (guide 002)" },
    {
      topic: "captions",
      text: "WD14 tags plus manual tagging; group works of one subject together (guide 002)",
    },
    { topic: "judging", text: "lowest loss is not the best style: compare the epochs' samples (guide 002)" },
  ],
};
