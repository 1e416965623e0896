import type { TrainConfig } from "./schema.ts";
import type { TrainSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";

/**
 * `cache_text_encoder_outputs` (sd-scripts' name). The engine already keeps a frozen text encoder's output
 * per distinct caption; this key asks for it outright, and so refuses what would make it impossible or
 * useless: a trained text encoder (its outputs change every step) and captions that change between steps
 * (shuffled tags, caption or tag dropout), as sd-scripts refuses them. Each refusal names the key to change.
 */

const VARYING_CAPTION_KEYS = ["shuffle_caption", "caption_dropout_rate", "caption_tag_dropout_rate"] as const;

function conflict(message: string, hint: string): DanluError {
  return new DanluError(message, { code: "CONFIG_CONFLICT", hint });
}

/** Config-level conflicts (checked when the config is resolved). */
export function checkTextCacheConfig(config: TrainConfig): void {
  if (!config.cache_text_encoder_outputs) return;
  if (!config.network_train_unet_only) {
    throw conflict(
      "cache_text_encoder_outputs needs frozen text encoders, but network_train_unet_only is false " +
        "(the text encoder is trained, so its outputs change every step)",
      "set network_train_unet_only = true, or turn cache_text_encoder_outputs off",
    );
  }
  if (config.pivotal_tuning) {
    throw conflict(
      "cache_text_encoder_outputs cannot be used with pivotal_tuning (the new token embeddings are trained)",
      "turn one of them off (pivotal tuning caches the text outputs itself once the embeddings freeze)",
    );
  }
  for (const key of VARYING_CAPTION_KEYS) {
    if (config[key]) {
      throw conflict(
        `cache_text_encoder_outputs needs fixed captions, but ${key} is ${String(config[key])}`,
        `set ${key} = ${key === "shuffle_caption" ? "false" : "0"}, or turn cache_text_encoder_outputs off`,
      );
    }
  }
}

/**
 * Plan-level check (dataset configs can set the caption options per folder): every image must have one
 * caption in every epoch; the first image whose caption changes is named.
 */
export function checkTextCacheSpec(config: TrainConfig, spec: TrainSpec): void {
  if (!config.cache_text_encoder_outputs) return;
  const seen = new Map<number, string>();
  for (const batches of spec.epochs) {
    for (const batch of batches) {
      batch.images.forEach((image, k) => {
        const caption = batch.captions[k] ?? "";
        const first = seen.get(image);
        if (first === undefined) seen.set(image, caption);
        else if (first !== caption) {
          const path = spec.images[image]?.path ?? `image ${image}`;
          throw conflict(
            `cache_text_encoder_outputs needs fixed captions, but ${path} is trained with different ` +
              `captions ("${first}", "${caption}")`,
            `turn off ${VARYING_CAPTION_KEYS.join(", ")} in that folder's dataset settings, ` +
              "or turn cache_text_encoder_outputs off",
          );
        }
      });
    }
  }
}
