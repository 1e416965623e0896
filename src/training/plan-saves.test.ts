import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveTrainConfig } from "../config/index.ts";
import { encodeValues } from "../lora/dtypes.ts";
import { writeSafetensors } from "../lora/safetensors.ts";
import { estimateLoraFileBytes, loraParamsPerRank, saveWarnings } from "./plan-saves.ts";
import { prepareRun } from "./run.ts";

let root = "";
let model = "";
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-saves-"));
  model = join(root, "model.safetensors");
  // A single-file SD1.5-style checkpoint: two UNet transformer layers, one text encoder layer, a VAE layer.
  const zeros = (shape: number[]) => ({
    dtype: "F16" as const,
    shape,
    data: encodeValues("F16", new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0)),
  });
  await writeSafetensors(model, {
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight": zeros([32, 32]),
    "model.diffusion_model.input_blocks.1.1.proj_in.weight": zeros([32, 32, 1, 1]),
    "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight": zeros([128, 32]),
    "first_stage_model.decoder.mid.attn_1.q.weight": zeros([8, 8, 1, 1]),
  });
  const folder = join(root, "train", "2_sks");
  mkdirSync(folder, { recursive: true });
  for (const name of ["a.png", "b.png"]) {
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#406080" } })
      .png()
      .toFile(join(folder, name));
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the size of a saved LoRA", () => {
  it("counts in + out features of the model's LoRA targets, per unit of rank", async () => {
    expect(await loraParamsPerRank(model, true)).toBe(64 + 64 + 160);
    expect(await loraParamsPerRank(model, false)).toBe(128);
    const settings = { arch: "sd15", modelPath: model, networkDim: 32, trainTextEncoder: true } as const;
    expect(await estimateLoraFileBytes({ ...settings, savePrecision: "fp16" })).toBe(288 * 32 * 2);
    expect(await estimateLoraFileBytes({ ...settings, savePrecision: "float" })).toBe(288 * 32 * 4);
  });

  it("falls back to the real architectures' counts when the model cannot be read", async () => {
    const settings = {
      modelPath: join(root, "model.ckpt"),
      trainTextEncoder: true,
      savePrecision: "fp16",
    } as const;
    // sd-scripts' SD1.5 LoRA at dim 32 is 37.7 MB, SDXL's 228 MB
    expect(await estimateLoraFileBytes({ ...settings, arch: "sd15", networkDim: 32 })).toBe(37_748_736);
    expect(await estimateLoraFileBytes({ ...settings, arch: "sdxl", networkDim: 32 })).toBe(228_032_512);
  });
});

describe("the plan warns about many or large saves", () => {
  it("says nothing for an ordinary run, and how to change one that saves 50 files", () => {
    const count = {
      bytesEach: 6.9e6,
      stepsPerEpoch: 2,
      saveEveryNEpochs: 1,
      saveEveryNSteps: 0,
      networkDim: 32,
    };
    expect(saveWarnings({ ...count, files: 10, epochs: 10 })).toEqual([]);
    expect(saveWarnings({ ...count, files: 50, epochs: 50 })).toEqual([
      "this run saves 50 LoRA files, about 345.0 MB in all (6.9 MB each at network_dim 32): more than usual " +
        "(over 20 files or 4.0 GB). To save fewer: save_every_n_epochs = 5 (10 files; now 1); or fewer epochs " +
        "with more repeats each: max_train_epochs (now 50 epochs of 2 steps) and the repeats in the folder names (N_name)",
    ]);
    expect(saveWarnings({ ...count, bytesEach: 228e6, files: 20, epochs: 20 })[0]).toMatch(
      /saves 20 LoRA files, about 4\.6 GB in all/,
    );
  });

  it("shows the warning in the plan danlu train prints", async () => {
    const config = resolveTrainConfig([
      {
        pretrained_model_name_or_path: model,
        train_data_dir: join(root, "train"),
        output_dir: join(root, "out"),
        output_name: "t",
        resolution: [64, 64],
        min_bucket_reso: 64,
        max_bucket_reso: 128,
        network_dim: 32,
        train_batch_size: 2,
        max_train_epochs: 50,
        save_every_n_epochs: 1,
      },
    ]);
    const prepared = await prepareRun(config);
    const warning = prepared.plan.warnings.find((w) => w.startsWith("this run saves 50 LoRA files"));
    expect(warning).toMatch(/about 921\.6 kB in all \(18\.4 kB each at network_dim 32\)/);
    expect(prepared.report).toContain(`Warnings\n  ${warning}`);
    const fewer = await prepareRun(resolveTrainConfig([{ ...config, save_every_n_epochs: 5 }]));
    expect(fewer.plan.warnings.filter((w) => w.includes("LoRA files"))).toEqual([]);
  });
});
