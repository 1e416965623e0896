import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKohyaDatasetConfig } from "./kohya-dataset.ts";
import { loadKohyaConfig } from "./kohya.ts";
import { resolveTrainConfig } from "./resolve.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-kohya-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function toml(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

// Shaped like a kohya_ss GUI export: sections, GUI empty strings, keys danlu does without.
const SECTIONED = `
[model_arguments]
pretrained_model_name_or_path = "/models/v1-5.safetensors"
v2 = false
v_parameterization = false
vae = ""

[dataset_arguments]
train_data_dir = "/data/img"
resolution = "512,512"
caption_extention = ".txt"
enable_bucket = true
max_data_loader_n_workers = 0

[training_arguments]
output_dir = "/out"
output_name = "mychar"
train_batch_size = 2
max_train_epochs = 10
save_every_n_epochs = 1
mixed_precision = "bf16"
xformers = true
learing_rate = 0.0001
min_snr_gamma = 5
ip_noise_gamma = 0.1

[optimizer_arguments]
optimizer_type = "adamw8bit"
unet_lr = 0.0001
text_encoder_lr = [5e-5, 5e-5]
lr_scheduler = "cosine_with_restarts"
lr_warmup_steps = 0.1

[additional_network_arguments]
network_module = "networks.lora"
network_dim = 128
network_alpha = 64
network_args = []
`;

describe("loadKohyaConfig", () => {
  it("flattens sections and maps sd-scripts keys onto danlu's", async () => {
    const { config, warnings, datasetConfig } = await loadKohyaConfig(await toml("gui.toml", SECTIONED));
    expect(config).toMatchObject({
      pretrained_model_name_or_path: "/models/v1-5.safetensors",
      train_data_dir: "/data/img",
      resolution: [512, 512],
      caption_extension: ".txt", // from sd-scripts' misspelled caption_extention
      enable_bucket: true,
      output_name: "mychar",
      train_batch_size: 2,
      max_train_epochs: 10,
      mixed_precision: "bf16",
      optimizer_type: "AdamW8bit",
      unet_lr: 1e-4,
      text_encoder_lr: 5e-5,
      lr_scheduler: "cosine_with_restarts",
      lr_warmup_steps: 0.1,
      network_dim: 128,
      network_alpha: 64,
      learning_rate: 2e-6, // sd-scripts' default: the file's learning rate key is misspelled
    });
    expect(config).not.toHaveProperty("v2"); // false in sd-scripts means "not said": danlu detects
    expect(config).not.toHaveProperty("vae");
    expect(datasetConfig).toBeNull();
    expect(warnings).toHaveLength(4);
    expect(warnings.join("\n")).toMatch(/line 13: max_data_loader_n_workers ignored: danlu plans/);
    expect(warnings.join("\n")).toMatch(/line 22: xformers ignored: danlu always uses PyTorch SDPA/);
    expect(warnings.join("\n")).toMatch(
      /line 23: learing_rate is not supported.*\(did you mean learning_rate\?\)/,
    );
    expect(warnings.join("\n")).toMatch(
      /line 25: ip_noise_gamma is not supported by danlu and was ignored$/m,
    );
    const resolved = resolveTrainConfig([config]);
    expect(resolved.save_precision).toBe("float");
  });

  it("keeps sd-scripts' defaults where danlu's differ", async () => {
    const { config } = await loadKohyaConfig(await toml("flat.toml", 'output_dir = "/o"\n'));
    expect(config).toEqual({
      output_dir: "/o",
      caption_extension: ".caption",
      enable_bucket: false,
      network_dim: 4,
      network_alpha: 1,
      learning_rate: 2e-6,
      save_every_n_epochs: 0,
      save_precision: "float",
    });
  });

  it("refuses settings danlu cannot honour, naming each with its line", async () => {
    const path = await toml(
      "lycoris.toml",
      'network_module = "networks.oft"\nnetwork_args = ["bogus=4"]\noptimizer_type = "SGDNesterov"\ntext_encoder_lr = [1e-5, 2e-5, 3e-5]\n',
    );
    const error = await loadKohyaConfig(path).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain("4 settings danlu cannot take");
    expect(error?.message).toContain(
      `${path} line 1: network_module must be networks.lora | lycoris.kohya (got "networks.oft")`,
    );
    expect(error?.message).toContain(
      `${path} line 2: network_args must be list of "key=value" (got ["bogus=4"]): network_args "bogus=4": unknown arg bogus`,
    );
    expect(error?.message).toContain(`${path} line 3: optimizer_type must be AdamW | AdamW8bit | Lion`);
    expect(error?.message).toContain(`${path} line 4: text_encoder_lr [0.00001,0.00002,0.00003]`);
  });

  it("returns the dataset_config path", async () => {
    const { datasetConfig } = await loadKohyaConfig(
      await toml("withds.toml", 'dataset_config = "/x/dataset.toml"\n'),
    );
    expect(datasetConfig).toBe("/x/dataset.toml");
  });
});

const DATASET = `
[general]
enable_bucket = true
shuffle_caption = true
keep_tokens = 1
caption_extension = ".txt"

[[datasets]]
resolution = 768
batch_size = 4

  [[datasets.subsets]]
  image_dir = "/data/char"
  num_repeats = 10
  class_tokens = "sks girl"

  [[datasets.subsets]]
  image_dir = "/data/reg"
  is_reg = true
  class_tokens = "girl"
  color_aug = false
  flip_agu = true
`;

describe("loadKohyaDatasetConfig", () => {
  it("returns the subsets and the run-wide settings, most specific level winning", async () => {
    const { config, subsets, warnings } = await loadKohyaDatasetConfig(await toml("ds.toml", DATASET));
    expect(subsets).toEqual([
      { image_dir: "/data/char", num_repeats: 10, class_tokens: "sks girl", is_reg: false },
      { image_dir: "/data/reg", num_repeats: 1, class_tokens: "girl", is_reg: true },
    ]);
    expect(config).toEqual({
      train_batch_size: 4,
      resolution: [768, 768],
      enable_bucket: true,
      shuffle_caption: true,
      keep_tokens: 1,
      caption_extension: ".txt",
    });
    expect(warnings).toEqual([
      expect.stringMatching(/subset 2: flip_agu .*ignored \(did you mean flip_aug\?\)/),
    ]);
  });

  it("explains what danlu does not support yet", async () => {
    const two = await toml(
      "two.toml",
      '[[datasets]]\n[[datasets.subsets]]\nimage_dir="/a"\n[[datasets]]\n[[datasets.subsets]]\nimage_dir="/b"\n',
    );
    await expect(loadKohyaDatasetConfig(two)).rejects.toThrow(
      /has 2 \[\[datasets\]\]; danlu trains exactly one/,
    );
    const ft = await toml(
      "ft.toml",
      '[[datasets]]\n[[datasets.subsets]]\nmetadata_file = "/m.json"\nrandom_crop = true\n',
    );
    const error = await loadKohyaDatasetConfig(ft).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain('subset 1: metadata_file = "/m.json" is not supported yet');
    expect(error?.message).toContain("subset 1: random_crop = true is not supported yet");
    expect(error?.message).toContain("subset 1: image_dir is missing");
    const mixed = await toml(
      "mixed.toml",
      '[[datasets]]\n[[datasets.subsets]]\nimage_dir="/a"\nkeep_tokens=1\n[[datasets.subsets]]\nimage_dir="/b"\n',
    );
    await expect(loadKohyaDatasetConfig(mixed)).rejects.toThrow(
      /subsets disagree on keep_tokens \(1 vs "unset"\)/,
    );
  });
});
