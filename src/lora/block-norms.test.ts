import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { blockOf, productNormSquared } from "./block-norms.ts";
import { encodeValues } from "./dtypes.ts";
import { readBlockNorms, readLoraInfo } from "./lora-info.ts";
import { writeSafetensors, type TensorToWrite } from "./safetensors.ts";
import type { LoraModuleInfo } from "./lora-info.ts";

function seeded(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  });
}

function bruteNormSquared(up: number[], down: number[], rank: number): number {
  const [out, inn] = [up.length / rank, down.length / rank];
  let total = 0;
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inn; i++) {
      let v = 0;
      for (let r = 0; r < rank; r++) v += (up[o * rank + r] ?? 0) * (down[r * inn + i] ?? 0);
      total += v * v;
    }
  }
  return total;
}

const module = (name: string): LoraModuleInfo => ({
  name,
  part: name.startsWith("lora_unet") ? "unet" : "te",
  kind: "lora",
  rank: 2,
  alpha: 1,
  shape: null,
});

describe("block weight norms", () => {
  it("the Gram-matrix norm equals the norm of the full product", () => {
    const [up, down] = [seeded(7 * 3, 1), seeded(3 * 5, 2)];
    expect(productNormSquared(up, down, 3)).toBeCloseTo(bruteNormSquared(up, down, 3), 10);
  });

  it("names blocks as LoRA Block Weight does (SD1.x diffusers names, SDXL LDM names)", () => {
    const cases: [string, "sd" | "sdxl", string | null][] = [
      ["lora_unet_down_blocks_0_attentions_1_proj_in", "sd", "IN02"],
      ["lora_unet_down_blocks_2_attentions_0_transformer_blocks_0_attn1_to_q", "sd", "IN07"],
      ["lora_unet_mid_block_attentions_0_proj_out", "sd", "M00"],
      ["lora_unet_up_blocks_1_attentions_0_proj_in", "sd", "OUT03"],
      ["lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_ff_net_2", "sd", "OUT11"],
      ["lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k", "sdxl", "IN04"],
      ["lora_unet_output_blocks_5_1_proj_out", "sdxl", "OUT05"],
      ["lora_te_text_model_encoder_layers_0_mlp_fc1", "sd", "BASE"],
      ["lora_unet_conv_in", "sd", "IN00"], // input_blocks.0: LBW's IN00 (LoCon)
      ["lora_unet_time_embedding_linear_1", "sd", null],
    ];
    for (const [name, family, block] of cases) expect(blockOf(module(name), family), name).toBe(block);
  });

  it("reads a file: each block's norm is the root of its modules' squares times (alpha/rank)^2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-norms-"));
    const path = join(dir, "l.safetensors");
    const tensors: Record<string, TensorToWrite> = {};
    const add = (name: string, up: number[], down: number[], alpha: number): void => {
      tensors[`${name}.lora_up.weight`] = {
        dtype: "F32",
        shape: [up.length / 2, 2],
        data: encodeValues("F32", up),
      };
      tensors[`${name}.lora_down.weight`] = {
        dtype: "F32",
        shape: [2, down.length / 2],
        data: encodeValues("F32", down),
      };
      tensors[`${name}.alpha`] = { dtype: "F32", shape: [], data: encodeValues("F32", [alpha]) };
    };
    const [u1, d1, u2, d2] = [seeded(8, 3), seeded(6, 4), seeded(8, 5), seeded(6, 6)];
    add("lora_unet_down_blocks_1_attentions_0_proj_in", u1, d1, 1); // IN04, scale 0.5
    add("lora_unet_down_blocks_1_attentions_0_proj_out", u2, d2, 2); // IN04, scale 1
    await writeSafetensors(path, tensors);
    const norms = await readBlockNorms(await readLoraInfo(path, { hash: false }), false);
    const expected = Math.sqrt(bruteNormSquared(u1, d1, 2) * 0.25 + bruteNormSquared(u2, d2, 2));
    expect(norms).toHaveLength(1);
    expect(norms[0]?.block).toBe("IN04");
    expect(norms[0]?.modules).toBe(2);
    expect(norms[0]?.norm).toBeCloseTo(expected, 5);
  });
});
