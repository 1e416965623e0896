import { describe, expect, it } from "vitest";
import { resolveTrainConfig } from "../config/resolve.ts";
import type { TrainConfigLayer } from "../config/schema.ts";
import { optimizerSpec } from "./method-spec.ts";

const required = { pretrained_model_name_or_path: "/m.safetensors", train_data_dir: "/d", output_dir: "/o" };
const config = (layer: TrainConfigLayer) => resolveTrainConfig([required, layer]);

describe("text encoder learning rates (SDXL: one per encoder, as sd-scripts' --text_encoder_lr TE1 TE2)", () => {
  it("gives the second encoder text_encoder_lr unless text_encoder_lr2 is set", () => {
    expect(optimizerSpec(config({ text_encoder_lr: 3e-5 }), "sdxl")).toMatchObject({
      text_encoder_lr: 3e-5,
      text_encoder_lr2: 3e-5,
    });
    expect(optimizerSpec(config({ learning_rate: 2e-4 }), "sd15").text_encoder_lr2).toBe(2e-4);
    expect(optimizerSpec(config({ text_encoder_lr: 3e-5, text_encoder_lr2: 1e-5 }), "sdxl")).toMatchObject({
      text_encoder_lr: 3e-5,
      text_encoder_lr2: 1e-5,
    });
  });

  it("refuses text_encoder_lr2 for a model with one text encoder", () => {
    expect(() => optimizerSpec(config({ text_encoder_lr2: 1e-5 }), "sd2")).toThrow(
      /text_encoder_lr2 is set, but this model \(sd2\) has one text encoder/,
    );
  });
});
