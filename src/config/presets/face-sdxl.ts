import { prefer, s, set, wish, type PresetDefinition } from "./types.ts";

const PRODIGY_ARGS = [
  "betas=0.9,0.99",
  "weight_decay=0.01",
  "safeguard_warmup=True",
  "use_bias_correction=True",
];

/** A face on SDXL, as the diffusers advanced-script guide (004) trained its face LoRAs. */
export const FACE_SDXL: PresetDefinition = {
  name: "face-sdxl",
  summary: "one person's face on SDXL from a few sharp, varied photos (guide 004, diffusers advanced script)",
  groups: [
    set("sdxl", true, "guide 004 trains SDXL base 1.0"),
    set("resolution", [1024, 1024], "guide 004: --resolution=1024 (SDXL's native size)"),
    set("network_dim", 32, "guide 004: rank 32; rank 64 smoothed the skin too much"),
    set("network_alpha", 32, "guide 004's script sets alpha = rank"),
    prefer(
      [
        s("optimizer_type", "Prodigy", "guide 004: Prodigy picks its own step size"),
        s("learning_rate", 1.0, "guide 004: lr 1.0 with Prodigy"),
        s("unet_lr", 1.0, "guide 004: lr 1.0 with Prodigy"),
        s("text_encoder_lr", 1.0, "guide 004: with Prodigy all parts start at the same lr 1.0"),
        s(
          "optimizer_args",
          PRODIGY_ARGS,
          "guide 004: beta2 0.99, weight decay 0.01, safeguard warmup, bias correction",
        ),
      ],
      [
        s("optimizer_type", "AdamW", "guide 004 uses Prodigy, which danlu lacks yet: AdamW is the nearest"),
        s("learning_rate", 1e-4, "guide 004: 1e-4 for the UNet with AdamW"),
        s("unet_lr", 1e-4, "guide 004: 1e-4 for the UNet with AdamW"),
        s("text_encoder_lr", 5e-5, "guide 004: the text encoder overfits faster, so a lower lr (5e-5)"),
        s(
          "optimizer_args",
          ["betas=0.9,0.99", "weight_decay=0.01"],
          "guide 004: beta2 0.99, weight decay 0.01",
        ),
      ],
    ),
    wish(
      [[s("min_snr_gamma", 5.0, "guide 004: min-SNR gamma 5.0 balances the timesteps' losses")]],
      "guide 004 uses min-SNR gamma 5.0; danlu lacks min_snr_gamma yet, so the loss is unweighted",
    ),
    wish(
      [
        [
          s(
            "pivotal_tuning",
            true,
            "guide 004: pivotal tuning (new tokens <s0><s1>) beat training the text encoder",
          ),
          s("pivotal_num_tokens", 2, "guide 004: 2 new tokens per trigger word"),
          s("pivotal_fraction", 0.5, "guide 004: the new tokens train for the first half, then freeze"),
          s("pivotal_lr", 3e-4, "guide 004: 3e-4, cog-sdxl's text lr for pivotal tuning"),
          s(
            "network_train_unet_only",
            true,
            "guide 004: with pivotal tuning the text encoders' weights stay as they are",
          ),
        ],
      ],
      "guide 004 prefers pivotal tuning (new tokens <s0><s1>); danlu lacks it yet, so the text encoder LoRA trains",
    ),
    set("max_train_steps_per_image", 120, "guide 004: steps = 75-120 x images; x120 gave the best faces"),
    set("train_batch_size", 1, "guide 004 counts steps per image at repeats 1; batch 1 = one photo a step"),
    set("lr_scheduler", "constant", "guide 004: --lr_scheduler=constant"),
    set("lr_warmup_steps", 0, "guide 004: --lr_warmup_steps=0"),
    set("mixed_precision", "bf16", "guide 004: --mixed_precision=bf16"),
    set("gradient_checkpointing", true, "guide 004: --gradient_checkpointing (SDXL at 1024 px is large)"),
    set("no_half_vae", true, "guide 004 uses the fp16-fix VAE: SDXL's own VAE must stay in float32"),
    set("seed", 0, "guide 004: --seed=0"),
  ],
  advice: [
    {
      topic: "images",
      text: "few but sharp photos: close-ups plus some full-body, no other faces, varied light and background (guide 004)",
    },
    { topic: "repeats", text: "folder 1_TRIGGER: repeats 1 (guide 004)" },
    {
      topic: "prior",
      text: "real portrait photos as reg_data_dir (100-150) kept the likeness; generated ones hurt (guide 004)",
    },
    { topic: "captions", text: "a caption per photo beats one instance prompt for all (guide 004)" },
    {
      topic: "trigger",
      text: "name the person with one word in every caption and pass it as --trigger-word (or pivotal_token): pivotal tuning puts <s0><s1> in its place (guide 004)",
    },
  ],
};
