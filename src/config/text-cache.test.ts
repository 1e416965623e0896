import { describe, expect, it } from "vitest";
import type { TrainSpec } from "../engine/spec.ts";
import { resolveTrainConfig } from "./resolve.ts";
import type { TrainConfigLayer } from "./schema.ts";
import { checkTextCacheSpec } from "./text-cache.ts";

const required = { pretrained_model_name_or_path: "/m.safetensors", train_data_dir: "/d", output_dir: "/o" };
const config = (layer: TrainConfigLayer) => resolveTrainConfig([required, layer]);
const cached = { cache_text_encoder_outputs: true, network_train_unet_only: true };

/** A plan with image 0 captioned per epoch as given. */
function planned(captions: string[]): TrainSpec {
  const epochs = captions.map((caption) => [{ images: [0], captions: [caption] }]);
  return { images: [{ path: "/d/1_sks/a.png" }], epochs } as unknown as TrainSpec;
}

describe("cache_text_encoder_outputs", () => {
  it("is accepted with frozen text encoders and fixed captions", () => {
    expect(config(cached).cache_text_encoder_outputs).toBe(true);
    expect(() => checkTextCacheSpec(config(cached), planned(["sks dog", "sks dog"]))).not.toThrow();
  });

  it("refuses a trained text encoder, naming the key to change", () => {
    expect(() => config({ cache_text_encoder_outputs: true })).toThrow(
      /cache_text_encoder_outputs needs frozen text encoders, but network_train_unet_only is false/,
    );
  });

  it.each([
    ["shuffle_caption", true, /shuffle_caption is true/],
    ["caption_dropout_rate", 0.1, /caption_dropout_rate is 0.1/],
    ["caption_tag_dropout_rate", 0.2, /caption_tag_dropout_rate is 0.2/],
    ["pivotal_tuning", true, /cannot be used with pivotal_tuning/],
  ] as const)("refuses %s", (key, value, message) => {
    expect(() => config({ ...cached, [key]: value })).toThrow(message);
  });

  it("refuses a plan whose captions change between epochs (per-folder dataset settings)", () => {
    expect(() => checkTextCacheSpec(config(cached), planned(["sks, dog", "dog, sks"]))).toThrow(
      /\/d\/1_sks\/a\.png is trained with different captions \("sks, dog", "dog, sks"\)/,
    );
    expect(() => checkTextCacheSpec(config({}), planned(["a", "b"]))).not.toThrow(); // key off: no check
  });
});
