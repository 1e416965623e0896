import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerLora } from "../cli/lora.ts";
import type { DanluError } from "../errors.ts";
import { convertLora } from "./convert/convert.ts";
import { encodeValues, type Dtype } from "./dtypes.ts";
import { describeLora } from "./describe.ts";
import { readLoraInfo } from "./lora-info.ts";
import { serializeSafetensors, writeSafetensors, type TensorToWrite } from "./safetensors.ts";

const PYTHON = resolve(import.meta.dirname, "../../.venv/bin/python");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-lora-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tensor(shape: number[], dtype: Dtype = "F16", fill = 0.01): TensorToWrite {
  const count = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: encodeValues(dtype, new Array<number>(count).fill(fill)) };
}

/** A kohya SDXL-style LoRA: a Linear, a 3x3 conv (LoCon), both text encoders, alphas in three dtypes. */
function sdxlLora(): Record<string, TensorToWrite> {
  const unetLinear = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q";
  const unetConv = "lora_unet_input_blocks_1_0_in_layers_2";
  const te1 = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj";
  const te2 = "lora_te2_text_model_encoder_layers_0_mlp_fc1";
  return {
    [`${unetLinear}.lora_down.weight`]: tensor([4, 64]),
    [`${unetLinear}.lora_up.weight`]: tensor([64, 4]),
    [`${unetLinear}.alpha`]: tensor([], "F16", 2),
    [`${unetConv}.lora_down.weight`]: tensor([8, 32, 3, 3]),
    [`${unetConv}.lora_up.weight`]: tensor([32, 8, 1, 1]),
    [`${unetConv}.alpha`]: tensor([], "BF16", 1),
    [`${te1}.lora_down.weight`]: tensor([4, 16]),
    [`${te1}.lora_up.weight`]: tensor([16, 4]),
    [`${te1}.alpha`]: tensor([], "F32", 4),
    [`${te2}.lora_down.weight`]: tensor([4, 20]),
    [`${te2}.lora_up.weight`]: tensor([80, 4]),
  };
}

const METADATA = {
  ss_network_module: "networks.lora",
  ss_network_dim: "4",
  ss_network_alpha: "2",
  ss_epoch: "3",
  ss_num_epochs: "10",
  ss_steps: "300",
  ss_sd_model_name: "sd_xl_base_1.0.safetensors",
  ss_resolution: "(1024, 1024)",
  ss_learning_rate: "0.0001",
  ss_training_started_at: "1733330948.5",
  "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
  "modelspec.trigger_phrase": "sks",
  ss_tag_frequency: JSON.stringify({
    "10_sks": { sks: 16, " smile": 5, outdoors: 9 },
    "1_reg": { smile: 2 },
  }),
  ss_dataset_dirs: JSON.stringify({ "10_sks": { n_repeats: 10, img_count: 16 } }),
};

async function writeLora(
  name: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string>,
): Promise<string> {
  const path = join(dir, name);
  await writeSafetensors(path, tensors, metadata);
  return path;
}

function dataHash(tensors: Record<string, TensorToWrite>): string {
  const bytes = serializeSafetensors(tensors);
  return createHash("sha256")
    .update(bytes.subarray(8 + Number(bytes.readBigUInt64LE(0))))
    .digest("hex");
}

describe("readLoraInfo", () => {
  it("lists modules by part with kind, rank, alpha and shape, and checks the hash", async () => {
    const tensors = sdxlLora();
    const path = await writeLora("sdxl.safetensors", tensors, {
      ...METADATA,
      sshs_model_hash: dataHash(tensors),
    });
    const info = await readLoraInfo(path);
    expect(info.tensorCount).toBe(11);
    expect(info.dtypes).toEqual({ F16: 9, BF16: 1, F32: 1 });
    expect(info.hash.status).toBe("ok");
    expect(info.modules.map((m) => [m.part, m.kind, m.rank, m.alpha, m.shape])).toEqual([
      ["te1", "lora", 4, 4, "16→16"],
      ["te2", "lora", 4, null, "20→80"],
      ["unet", "locon", 8, 1, "32→32 3x3"],
      ["unet", "lora", 4, 2, "64→64"],
    ]);
    expect(info.parts).toEqual([
      { part: "unet", modules: 2, kinds: { locon: 1, lora: 1 }, ranks: [4, 8], alphas: [1, 2] },
      { part: "te1", modules: 1, kinds: { lora: 1 }, ranks: [4], alphas: [4] },
      { part: "te2", modules: 1, kinds: { lora: 1 }, ranks: [4], alphas: [] },
    ]);
  });

  it("reports a hash that does not match the data, and a missing one", async () => {
    const tensors = sdxlLora();
    const wrong = await writeLora("wrong.safetensors", tensors, { sshs_model_hash: "0".repeat(64) });
    expect((await readLoraInfo(wrong)).hash).toMatchObject({
      status: "mismatch",
      computed: dataHash(tensors),
    });
    const none = await writeLora("none.safetensors", tensors, {});
    expect((await readLoraInfo(none)).hash.status).toBe("absent");
    expect((await readLoraInfo(none, { hash: false })).hash).toEqual({
      stored: null,
      computed: null,
      status: "not checked",
    });
  });

  it("recognises LoHa, LoKr, IA3 and DoRA key sets", async () => {
    const path = await writeLora(
      "lycoris.safetensors",
      {
        "lora_unet_a.hada_w1_a": tensor([64, 8]),
        "lora_unet_a.hada_w1_b": tensor([8, 64]),
        "lora_unet_a.hada_w2_a": tensor([64, 8]),
        "lora_unet_a.hada_w2_b": tensor([8, 64]),
        "lora_unet_a.alpha": tensor([], "F16", 8),
        "lora_unet_b.lokr_w1": tensor([4, 4]),
        "lora_unet_b.lokr_w2_a": tensor([16, 6]),
        "lora_unet_b.lokr_w2_b": tensor([6, 16]),
        "lora_unet_c.weight": tensor([64]),
        "lora_unet_c.on_input": tensor([], "BOOL", 0),
        "lora_te_d.lora_down.weight": tensor([2, 8]),
        "lora_te_d.lora_up.weight": tensor([8, 2]),
        "lora_te_d.dora_scale": tensor([8, 1]),
      },
      {},
    );
    const info = await readLoraInfo(path);
    expect(info.modules.map((m) => [m.name, m.kind, m.rank, m.alpha])).toEqual([
      ["lora_te_d", "dora", 2, null],
      ["lora_unet_a", "loha", 8, 8],
      ["lora_unet_b", "lokr", 6, null],
      ["lora_unet_c", "ia3", null, null],
    ]);
  });

  it("says when a file is a checkpoint or another format instead of a LoRA", async () => {
    const checkpoint = await writeLora(
      "model.safetensors",
      { "model.diffusion_model.input_blocks.0.0.weight": tensor([4, 4]), "first_stage_model.x": tensor([1]) },
      {},
    );
    await expect(readLoraInfo(checkpoint)).rejects.toThrow(
      /is not a LoRA: it looks like a base model checkpoint/,
    );
    const peft = await writeLora(
      "peft.safetensors",
      { "unet.down_blocks.0.attn.to_q.lora_A.weight": tensor([4, 8]) },
      {},
    );
    // Read as the kohya file it converts to; this one says nothing of its base model.
    const error = (await readLoraInfo(peft).catch((e: unknown) => e)) as DanluError;
    expect(error.message).toMatch(
      /cannot tell whether this LoRA is for SD1\.x\/SD2\.x or SDXL \(it is in the diffusers layout\)/,
    );
    expect(error.hint).toMatch(
      /danlu lora convert .*peft\.safetensors OUT\.safetensors --to kohya --arch sd15\|sd2\|sdxl/,
    );
  });
});

describe("describeLora and `danlu lora info`", () => {
  it("summarises architecture, training, dataset dirs and top tags", async () => {
    const path = await writeLora("described.safetensors", sdxlLora(), METADATA);
    const summary = describeLora(await readLoraInfo(path, { hash: false }));
    expect(summary).toMatchObject({
      architecture: "SDXL 1.0 lora",
      networkModule: "networks.lora",
      dim: "4",
      alpha: "2",
      epoch: 3,
      epochs: 10,
      steps: 300,
      resolution: "1024x1024",
      baseModel: "sd_xl_base_1.0.safetensors",
      triggerPhrase: "sks",
      datasetDirs: [{ dir: "10_sks", repeats: 10, images: 16 }],
      training: { "learning rate": "0.0001", started: "2024-12-04 16:49:08 UTC" },
      topTags: [
        { tag: "sks", count: 16 },
        { tag: "outdoors", count: 9 },
        { tag: "smile", count: 7 },
      ],
    });
  });

  it("prints a readable summary and the module list", async () => {
    const path = await writeLora("cli.safetensors", sdxlLora(), METADATA);
    const program = new Command("danlu").exitOverride();
    registerLora(program);
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let text = "";
    try {
      await program.parseAsync(["lora", "info", path], { from: "user" });
      text = write.mock.calls.map((call) => String(call[0])).join("");
    } finally {
      write.mockRestore();
    }
    expect(text).toContain("architecture: SDXL 1.0 lora");
    expect(text).toContain("trained: epoch 3 of 10, 300 steps");
    expect(text).toContain("top tags: sks (16), outdoors (9), smile (7)");
    expect(text).toContain("UNet: 2 modules (1 locon, 1 lora), rank 4/8, alpha 1/2");
    expect(text).toMatch(
      /lora_unet_input_blocks_1_0_in_layers_2\s+locon\s+rank 8\s+alpha 1 \(scale 0\.125\)\s+32→32 3x3/,
    );
  });
});

describe("the layouts danlu lora convert writes", () => {
  it("reads diffusers/PEFT and ComfyUI files as the kohya file they came from", async () => {
    const kohya = await writeLora("layouts.safetensors", sdxlLora(), METADATA);
    const expected = await readLoraInfo(kohya);
    const shape = (info: typeof expected) =>
      info.modules.map((m) => [m.name, m.part, m.kind, m.rank, m.shape]);
    for (const layout of ["diffusers", "comfyui"] as const) {
      const converted = join(dir, `layouts-${layout}.safetensors`);
      await convertLora(kohya, converted, { to: layout });
      const info = await readLoraInfo(converted);
      expect(info.layout).toBe(layout);
      expect(shape(info)).toEqual(shape(expected));
      expect(info.parts.map((p) => [p.part, p.modules, p.ranks])).toEqual(
        expected.parts.map((p) => [p.part, p.modules, p.ranks]),
      );
      expect(describeLora(info).architecture).toBe("SDXL 1.0 lora");

      const program = new Command("danlu").exitOverride();
      registerLora(program);
      const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
      let text = "";
      try {
        await program.parseAsync(["lora", "info", converted, "--no-modules"], { from: "user" });
        text = write.mock.calls.map((call) => String(call[0])).join("");
      } finally {
        write.mockRestore();
      }
      expect(text).toContain(`layout: ${layout} (modules below under their kohya names)`);
      expect(text).toContain("started: 2024-12-04 16:49:08 UTC");
      expect(text).toMatch(/IN04 .* 1 modules/);
    }
  });
});

describe("a LoRA written by Python", () => {
  it("reads sd-scripts-style fp16 weights and alpha saved with safetensors.torch", async () => {
    const path = join(dir, "python-lora.safetensors");
    const script = `
import torch
from safetensors.torch import save_file
m = "lora_unet_down_blocks_0_attentions_0_proj_in"
t = {m + ".lora_down.weight": torch.zeros(16, 320, 1, 1), m + ".lora_up.weight": torch.zeros(320, 16, 1, 1),
     m + ".alpha": torch.tensor(8.0), "lora_te_text_model_encoder_layers_11_mlp_fc2.lora_down.weight": torch.zeros(16, 3072),
     "lora_te_text_model_encoder_layers_11_mlp_fc2.lora_up.weight": torch.zeros(768, 16),
     "lora_te_text_model_encoder_layers_11_mlp_fc2.alpha": torch.tensor(8.0)}
save_file({k: v.half() for k, v in t.items()}, ${JSON.stringify(path)}, {"ss_base_model_version": "sd_v1"})
`;
    await promisify(execFile)(PYTHON, ["-c", script]);
    const info = await readLoraInfo(path);
    expect(info.modules.map((m) => [m.part, m.kind, m.rank, m.alpha, m.shape])).toEqual([
      ["te", "lora", 16, 8, "3072→768"],
      ["unet", "lora", 16, 8, "320→320 1x1"],
    ]);
    expect(describeLora(info).architecture).toBe("SD 1.x");
  });
});
