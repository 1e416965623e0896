import { describe, expect, it } from "vitest";
import { checkKeyValue } from "../check-value.ts";
import { resolveTrainConfig } from "../resolve.ts";
import type { TrainConfigLayer } from "../schema.ts";
import { citedGuides, formatPreset, formatPresetList } from "./format.ts";
import {
  findPreset,
  presetLayer,
  PRESET_NAMES,
  resolveDefinition,
  resolvePreset,
  stackWithPreset,
} from "./index.ts";
import { prefer, s, set, wish } from "./types.ts";

const required = { pretrained_model_name_or_path: "/m.safetensors", train_data_dir: "/d", output_dir: "/o" };

describe("presets", () => {
  it("are the five the guides describe, and the portrait service's", () => {
    expect(PRESET_NAMES).toEqual(["person", "character", "style", "concept", "face-sdxl", "portrait"]);
  });

  it.each(PRESET_NAMES)("%s: every setting is valid, resolves, and cites a guide", (name) => {
    const preset = resolvePreset(name);
    expect(preset.settings.length).toBeGreaterThan(8);
    for (const setting of preset.settings) {
      expect(checkKeyValue(setting.key, setting.value).ok, setting.key).toBe(true);
      expect(setting.reason, setting.key).toMatch(/guides? 00[0-4]/);
      expect(setting.reason, setting.key).not.toContain("\n");
    }
    const keys = preset.settings.map((setting) => setting.key);
    expect(new Set(keys).size, "no key set twice").toBe(keys.length);
    for (const key of ["network_dim", "network_alpha", "optimizer_type", "lr_scheduler", "train_batch_size"])
      expect(keys, key).toContain(key);
    const config = resolveTrainConfig([required, presetLayer(name)]);
    expect(config.network_dim).toBe(preset.settings.find((x) => x.key === "network_dim")?.value);
    for (const advice of preset.advice) expect(advice.text).toMatch(/guides? 00[0-4]/);
  });

  it("follow the guides' numbers", () => {
    const person = resolveTrainConfig([required, presetLayer("person")]);
    expect([person.network_dim, person.network_alpha, person.unet_lr, person.text_encoder_lr]).toEqual([
      128, 128, 1e-4, 5e-5,
    ]);
    expect([person.train_batch_size, person.clip_skip, person.max_train_steps_per_image]).toEqual([2, 2, 50]);
    const face = resolveTrainConfig([required, presetLayer("face-sdxl")]);
    expect([face.sdxl, face.network_dim, face.max_train_steps_per_image]).toEqual([true, 32, 120]);
    expect(resolveTrainConfig([required, presetLayer("character")]).max_train_epochs).toBe(10);
  });

  it("portrait: a short UNet-only run with guide 004's rank and min-SNR", () => {
    const resolved = resolvePreset("portrait");
    expect(resolved.missing).toEqual([]);
    const config = resolveTrainConfig([required, presetLayer("portrait")]);
    expect([config.network_dim, config.network_alpha, config.network_train_unet_only]).toEqual([
      32,
      32,
      true,
    ]);
    expect([config.optimizer_type, config.unet_lr, config.lr_scheduler, config.min_snr_gamma]).toEqual([
      "AdamW",
      2e-4,
      "cosine",
      5,
    ]);
    expect([config.train_batch_size, config.max_train_steps, config.max_train_steps_per_image]).toEqual([
      4,
      400,
      null,
    ]);
    expect([config.cache_latents, config.cache_text_encoder_outputs, config.save_every_n_epochs]).toEqual([
      true,
      true,
      0,
    ]);
  });

  it("portrait: resolves for the tiny test model on the CPU (the pipeline's test overrides)", () => {
    const tiny = {
      resolution: [64, 64],
      min_bucket_reso: 64,
      max_bucket_reso: 128,
      network_dim: 4,
      train_batch_size: 2,
      max_train_epochs: 2,
      device: "cpu",
    } as TrainConfigLayer;
    const config = resolveTrainConfig([required, ...stackWithPreset(presetLayer("portrait"), null, [tiny])]);
    expect([config.resolution, config.network_dim, config.train_batch_size, config.device]).toEqual([
      [64, 64],
      4,
      2,
      "cpu",
    ]);
    expect([config.max_train_epochs, config.max_train_steps_per_image, config.network_alpha]).toEqual([
      2,
      null,
      32,
    ]);
  });

  it("use the first option danlu accepts and say what is missing", () => {
    const resolved = resolveDefinition({
      name: "test",
      summary: "test",
      advice: [],
      groups: [
        prefer(
          [s("optimizer_type", "NoSuchOptimizer", "wanted"), s("learning_rate", 1.0, "wanted")],
          [s("optimizer_type", "AdamW", "nearest"), s("learning_rate", 1e-4, "nearest")],
        ),
        wish([[s("no_such_key", 5, "wanted")]], "the guide wants no_such_key; danlu lacks it"),
        set("network_dim", 8, "fixed"),
      ],
    });
    expect(resolved.settings.map((x) => [x.key, x.value, x.reason])).toEqual([
      ["optimizer_type", "AdamW", "nearest"],
      ["learning_rate", 1e-4, "nearest"],
      ["network_dim", 8, "fixed"],
    ]);
    expect(resolved.missing).toEqual(["the guide wants no_such_key; danlu lacks it"]);
  });

  it("an unknown name says which ones exist", () => {
    expect(() => findPreset("persn")).toThrow(/unknown preset 'persn' \(did you mean person\?\)/);
  });

  it("shows each setting with its reason, and lists the presets", () => {
    const text = formatPreset("person");
    expect(text).toMatch(/network_dim\s+= 128\s+guide 000: dim 128/);
    expect(text).toContain("000: 'Miaoya");
    expect(formatPresetList()).toMatch(/face-sdxl\s+one person's face on SDXL/);
    expect(formatPreset("face-sdxl")).not.toMatch(/^ {2}000:/m); // "0.0003" is not a citation
  });

  it("finds the guides a text cites, ranges included", () => {
    const ids = (text: string) => citedGuides(text).map(([id]) => id);
    expect(ids("guide 004: lr 0.0003")).toEqual(["004"]);
    expect(ids("guides 000 and 003; guides 001, 002")).toEqual(["000", "001", "002", "003"]);
    expect(ids("guides 000-002")).toEqual(["000", "001", "002"]);
  });
});

describe("stackWithPreset (defaults < preset < kohya config < --config < flags)", () => {
  const preset = presetLayer("person");
  const resolve = (layers: TrainConfigLayer[]) => resolveTrainConfig([required, ...layers]);

  it("lets files and flags override any setting", () => {
    const config = resolve(stackWithPreset(preset, null, [{ network_dim: 16 }, { clip_skip: 1 }]));
    expect([config.network_dim, config.clip_skip, config.network_alpha]).toEqual([16, 1, 128]);
  });

  it("keeps the preset where a kohya config only fell back to sd-scripts' defaults", () => {
    const kohya = { config: { network_dim: 4, network_alpha: 1, seed: 7 }, defaulted: ["network_dim"] };
    const config = resolve(stackWithPreset(preset, kohya, []));
    expect([config.network_dim, config.network_alpha, config.seed]).toEqual([128, 1, 7]);
  });

  it("replaces the preset's run length when a later layer sets one", () => {
    const config = resolve(stackWithPreset(preset, null, [{ max_train_epochs: 3 }]));
    expect([config.max_train_epochs, config.max_train_steps_per_image]).toEqual([3, null]);
    const steps = resolve(stackWithPreset(preset, null, [{ max_train_steps: 300 }]));
    expect([steps.max_train_steps, steps.max_train_steps_per_image]).toEqual([300, null]);
  });
});
