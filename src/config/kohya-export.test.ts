import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { DatasetSubset } from "./kohya-dataset.ts";
import { loadKohyaDatasetConfig } from "./kohya-dataset.ts";
import { kohyaConfigText, writeKohyaExport } from "./kohya-export.ts";
import { loadKohyaConfig } from "./kohya.ts";
import { PRESET_NAMES, presetLayer } from "./presets/index.ts";
import { resolveTrainConfig } from "./resolve.ts";
import type { TrainConfig, TrainConfigLayer } from "./schema.ts";

const required = {
  pretrained_model_name_or_path: "/models/base.safetensors",
  train_data_dir: "/data/train",
  output_dir: "/runs/out",
};

/** Writes the config as sd-scripts TOML and reads it back the way `danlu train --kohya-config` does. */
async function roundTrip(config: TrainConfig, subsets: DatasetSubset[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "danlu-kohya-export-"));
  const written = writeKohyaExport(join(dir, "run.toml"), config, { subsets });
  const kohya = await loadKohyaConfig(written[0] ?? "");
  const layers: TrainConfigLayer[] = [kohya.config];
  let readSubsets: DatasetSubset[] = [];
  if (kohya.datasetConfig) {
    const dataset = await loadKohyaDatasetConfig(kohya.datasetConfig);
    layers.push(dataset.config);
    readSubsets = dataset.subsets;
    expect(dataset.warnings).toEqual([]);
  }
  expect(kohya.warnings).toEqual([]);
  const back = resolveTrainConfig(layers, { subsetsGiven: readSubsets.length > 0 });
  return { back, written, subsets: readSubsets };
}

const busy: TrainConfigLayer = {
  v2: true,
  v_parameterization: true,
  vae: "/models/vae.safetensors",
  reg_data_dir: "/data/reg",
  caption_extension: ".caption",
  resolution: [768, 512],
  caption_prefix: "photo of sks, ",
  keep_tokens_separator: "|||",
  caption_tag_dropout_rate: 0.1,
  trigger_word: "sks",
  network_dim: 8,
  network_alpha: 4,
  text_encoder_lr: 2e-5,
  optimizer_args: ["weight_decay=0.1", "betas=0.9,0.99"],
  lr_scheduler: "cosine_with_restarts",
  lr_warmup_steps: 0.05,
  lr_scheduler_num_cycles: 3,
  max_train_epochs: 7,
  save_every_n_epochs: 0,
  save_every_n_steps: 50,
  device: "cpu",
  max_token_length: 225,
  sample_prompts: "/data/prompts.txt",
  sample_every_n_steps: 25,
  sample_sampler: "euler_a",
  training_comment: 'a "quoted" comment',
  validation_split: 0.2,
  validation_seed: 5,
  validate_every_n_steps: 10,
};

describe("--export-kohya round trip (--kohya-config reads the same settings back)", () => {
  it("defaults", async () => {
    const config = resolveTrainConfig([required]);
    expect((await roundTrip(config)).back).toEqual(config);
  });

  it("a config with many non-default settings", async () => {
    const config = resolveTrainConfig([required, busy]);
    expect((await roundTrip(config)).back).toEqual(config);
  });

  it("SDXL's two text encoder rates as sd-scripts' one list (--text_encoder_lr TE1 TE2)", async () => {
    const config = resolveTrainConfig([required, { text_encoder_lr: 2e-5, text_encoder_lr2: 1e-5 }]);
    const { back, written } = await roundTrip(config);
    expect(back).toEqual(config);
    expect(parse(readFileSync(written[0] ?? "", "utf8")).text_encoder_lr).toEqual([2e-5, 1e-5]);
  });

  it.each(PRESET_NAMES)("preset %s", async (name) => {
    const config = resolveTrainConfig([required, presetLayer(name)]);
    expect((await roundTrip(config)).back).toEqual(config);
  });

  it("dataset subsets become a dataset_config file beside the config", async () => {
    const { train_data_dir: _unused, ...noDir } = required;
    const config = resolveTrainConfig(
      [noDir, { train_batch_size: 3, shuffle_caption: true, keep_tokens: 1, validation_split: 0.25 }],
      {
        subsetsGiven: true,
      },
    );
    const subsets: DatasetSubset[] = [
      { image_dir: "/data/alice", num_repeats: 10, class_tokens: "alice", is_reg: false },
      { image_dir: "/data/women", num_repeats: 1, class_tokens: null, is_reg: true },
    ];
    const result = await roundTrip(config, subsets);
    expect(result.back).toEqual(config);
    expect(result.subsets).toEqual(subsets);
    expect(result.written[1]).toMatch(/run_dataset\.toml$/);
    const main = parse(readFileSync(result.written[0] ?? "", "utf8"));
    expect(main.dataset_config).toBe(result.written[1]);
    expect(main.train_data_dir).toBeUndefined();
  });
});

describe("the written file", () => {
  it("is what sd-scripts reads: flat keys, resolution as W,H, danlu-only keys apart", () => {
    const config = resolveTrainConfig([required, busy]);
    const text = kohyaConfigText(config, { arch: "sd2" });
    const data = parse(text) as Record<string, unknown>;
    expect(data.resolution).toBe("768,512");
    expect(data.v2).toBe(true);
    expect(data.network_dim).toBe(8);
    expect(data.save_every_n_epochs).toBeUndefined(); // 0 would divide by zero in sd-scripts
    expect(data.danlu).toEqual({ trigger_word: "sks", device: "cpu" });
    expect([data.validation_split, data.validation_seed, data.validate_every_n_steps]).toEqual([0.2, 5, 10]);
    expect(text).toMatch(/^# sd-scripts training config .* train_network\.py/);
  });

  it("names the SDXL script, and writes the plan's steps when steps per image decide the length", () => {
    const config = resolveTrainConfig([required, presetLayer("face-sdxl")]);
    const data = parse(kohyaConfigText(config, { arch: "sdxl", totalSteps: 720 })) as Record<string, unknown>;
    expect(data.max_train_steps).toBe(720);
    expect(data.danlu).toMatchObject({ max_train_steps_per_image: 120 });
    expect(kohyaConfigText(config, { arch: "sdxl" })).toContain("sdxl_train_network.py");
  });
});
