import { prefer, s, set, type PresetDefinition } from "./types.ts";

/** A concept (a pose, an object, a clothing style) from 50+ images, after guide 003's numbers. */
export const CONCEPT: PresetDefinition = {
  name: "concept",
  summary: "a concept (object, pose, outfit) from 50+ varied images, SD1.5 (guide 003)",
  groups: [
    set("resolution", [768, 768], "guide 003: train above 512x512 and below 1024x1024"),
    set("enable_bucket", true, "guide 003: aspect-ratio buckets are on by default in the scripts"),
    set("caption_extension", ".txt", "guides 000-002 keep captions in .txt files beside the images"),
    set("shuffle_caption", true, "guide 001 shuffles tags; the trigger stays first with keep_tokens"),
    set("keep_tokens", 1, "guide 001: the first tag weighs most, so the trigger word stays first"),
    prefer(
      [
        s("network_args", ["conv_dim=32", "conv_alpha=16"], "guide 003: LoCon also trains the conv layers"),
        s("network_dim", 64, "guide 001: dim 64 (usually 4-128, bigger is not better)"),
        s("network_alpha", 32, "guide 001: alpha half the dim"),
      ],
      [
        s(
          "network_dim",
          64,
          "guide 003 suggests LoCon, which danlu lacks yet: plain LoRA at guide 001's dim 64",
        ),
        s("network_alpha", 32, "guide 001: alpha half the dim"),
      ],
    ),
    set("optimizer_type", "AdamW", "guide 003 gives its rates for AdamW"),
    set("learning_rate", 1e-4, "guide 003: UNet 1e-4 is a good initial value"),
    set("unet_lr", 1e-4, "guide 003: UNet 1e-4 is a good initial value"),
    set("text_encoder_lr", 5e-5, "guide 003: text encoder 5e-5 is a good initial value"),
    set("lr_scheduler", "cosine", "guide 003 recommends cosine"),
    set("lr_warmup_steps", 0.05, "guide 003: warmup, if used, 5-10% of the total steps"),
    set("train_batch_size", 2, "guide 003: a bigger batch is steadier; 2 is what guides 000-002 use"),
    set("max_train_steps", 3000, "guide 003: a concept needs at least 3000 steps at UNet lr 1e-4"),
    set("save_every_n_epochs", 1, "guide 001: save each epoch, pick the best from an X/Y grid"),
    set("clip_skip", 2, "guide 001: 'usually 2' (anime bases descend from NovelAI)"),
    set("cache_latents", true, "guides 000 and 001 cache latents (each image through the VAE once)"),
  ],
  advice: [
    { topic: "images", text: "at least 50 images in varied styles so no style is baked in (guide 003)" },
    {
      topic: "repeats",
      text: "balance several concepts: the smaller one gets its own folder with more repeats (guide 003)",
    },
    {
      topic: "captions",
      text: "several taggers at a lower threshold, then prune; merge related tags into phrases (guide 003)",
    },
  ],
};
