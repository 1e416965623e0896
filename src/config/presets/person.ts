import { set, type PresetDefinition } from "./types.ts";

/** A real person from ~16 photos on SD1.5, as guide 000 trained it (its full kohya_ss command). */
export const PERSON: PresetDefinition = {
  name: "person",
  summary: "a real person from about 16 varied photos, SD1.5 (guide 000's kohya_ss command)",
  groups: [
    set("resolution", [512, 512], "guide 000 trains at 512,512 (SD1.5's native size)"),
    set("enable_bucket", true, "guide 000 turns buckets on: photos of any aspect ratio train uncropped"),
    set("min_bucket_reso", 256, "guide 000: --min_bucket_reso=256"),
    set("max_bucket_reso", 2048, "guide 000: --max_bucket_reso=2048"),
    set("bucket_reso_steps", 64, "guide 000: --bucket_reso_steps=64 (SD1.5 needs multiples of 64)"),
    set("bucket_no_upscale", true, "guide 000: --bucket_no_upscale (small photos are not blown up)"),
    set("caption_extension", ".txt", "guide 000 keeps each caption in image.txt beside image.png"),
    set("network_dim", 128, "guide 000: dim 128 looked much better than dim 8 at the same VRAM and time"),
    set("network_alpha", 128, "guide 000: alpha = dim = 128"),
    set("learning_rate", 1e-4, "guide 000: --learning_rate=0.0001"),
    set("unet_lr", 1e-4, "guide 000: --unet_lr=0.0001"),
    set("text_encoder_lr", 5e-5, "guide 000: --text_encoder_lr=5e-05 (half the UNet's)"),
    set("lr_scheduler", "constant", "guide 000: --lr_scheduler=constant"),
    set(
      "optimizer_type",
      "AdamW8bit",
      "guide 000: --optimizer_type=AdamW8bit (8-bit states; needs a CUDA GPU)",
    ),
    set("train_batch_size", 2, "guide 000: batch 2 is the trade-off for a small dataset"),
    set(
      "max_train_steps_per_image",
      50,
      "guide 000: 800 steps for its 16 photos = 50 steps per image (about 90 s on an RTX 4090)",
    ),
    set("save_every_n_epochs", 1, "guide 000: --save_every_n_epochs=1"),
    set("mixed_precision", "bf16", "guide 000: --mixed_precision=bf16"),
    set("save_precision", "bf16", "guide 000: --save_precision=bf16"),
    set("no_half_vae", true, "guide 000: --no_half_vae (the VAE stays in float32)"),
    set("cache_latents", true, "guide 000: --cache_latents (each photo goes through the VAE once)"),
    set("clip_skip", 2, "guide 000: clip_skip 2 came out a little better than 1"),
    set("seed", 1234, "guide 000: --seed=1234"),
    set("noise_offset", 0, "guide 000: --noise_offset=0.0"),
  ],
  advice: [
    {
      topic: "images",
      text: "about 16 photos of one person, varied styles, single-person shots (guide 000)",
    },
    {
      topic: "repeats",
      text: "folder 100_NAME: 16 photos x 100 repeats / batch 2 = 800 steps, one epoch (guide 000)",
    },
    {
      topic: "captions",
      text: "a unique trigger word in every caption; leave out the person's fixed traits (guide 000)",
    },
    { topic: "base model", text: "plain SD1.5 trained better than a realistic checkpoint (guide 000)" },
  ],
};
