import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeValues } from "../src/lora/dtypes.ts";
import { readSafetensorsHeader, readTensorsValues, writeSafetensors } from "../src/lora/safetensors.ts";
import { runCli } from "./cli.ts";

/**
 * `danlu lora ...` end to end on a tiny SD1.5 model: bake a LoRA written here into the checkpoint, extract it
 * back from the baked and the base checkpoints, resize it, convert it there and back, and read its info.
 * Six engine starts (make-tiny, bake, extract, resize, and resize of the diffusers and ComfyUI layouts).
 */
const dir = mkdtempSync(join(tmpdir(), "danlu-lora-cli-"));
const model = join(dir, "tiny-sd15.safetensors");
const lora = join(dir, "two.safetensors");
// Two modules of the tiny SD1.5 (UNet width 16 at the first level, text encoder hidden size 32), rank 2.
const MODULES = {
  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: [16, 16],
  lora_te_text_model_encoder_layers_0_self_attn_q_proj: [32, 32],
} as const;

function pseudoRandom(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.5);
}

async function danlu(...args: string[]) {
  const result = await runCli(["lora", ...args]);
  if (result.code !== 0) throw new Error(`danlu lora ${args.join(" ")}: ${result.code}\n${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--single-file", "--out", model]);
  expect(made.code, made.stderr).toBe(0);
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  let seed = 1;
  for (const [name, [out, inn]] of Object.entries(MODULES)) {
    tensors[`${name}.lora_down.weight`] = {
      dtype: "F32",
      shape: [2, inn],
      data: encodeValues("F32", pseudoRandom(2 * inn, seed++)),
    };
    tensors[`${name}.lora_up.weight`] = {
      dtype: "F32",
      shape: [out, 2],
      data: encodeValues("F32", pseudoRandom(2 * out, seed++)),
    };
    tensors[`${name}.alpha`] = { dtype: "F32", shape: [], data: encodeValues("F32", [1]) };
  }
  await writeSafetensors(lora, tensors, { ss_network_dim: "2", "modelspec.trigger_phrase": "zkz" });
}, 300_000);

describe("danlu lora", () => {
  it("bake, then extract recovers the two modules; resize reports the kept share", async () => {
    const baked = join(dir, "baked.safetensors");
    expect(await danlu("bake", model, `${lora}:0.5`, "-o", baked, "--precision", "float")).toMatch(
      /2 layers changed/,
    );
    const extracted = join(dir, "extracted.safetensors");
    const report = await danlu(
      "extract",
      model,
      baked,
      "-o",
      extracted,
      "--rank",
      "2",
      "--precision",
      "float",
    );
    expect(report).toMatch(/kept on average 100\.0%/);
    const header = await readSafetensorsHeader(extracted);
    const names = new Set(Object.keys(header.tensors).map((k) => k.split(".")[0]));
    expect(names).toEqual(new Set(Object.keys(MODULES)));
    expect(header.metadata.ss_network_dim).toBe("2");

    const resized = join(dir, "resized.safetensors");
    const resize = await danlu("resize", extracted, resized, "--rank", "1", "--json");
    const result = JSON.parse(resize) as { modules: { new_rank: number; fro_kept: number }[] };
    expect(result.modules.map((m) => m.new_rank)).toEqual([1, 1]);
    for (const m of result.modules) expect(m.fro_kept).toBeLessThan(1);
    const [alpha] = (
      await readTensorsValues(await readSafetensorsHeader(resized), [`${Object.keys(MODULES)[0]}.alpha`])
    ).values();
    expect(alpha).toEqual([1]); // the scale alpha/rank is kept: extract wrote 2/2, resize 1/1
  }, 600_000);

  it("convert there and back, and info shows trigger words and block norms (no engine)", async () => {
    const there = join(dir, "peft.safetensors");
    const back = join(dir, "back.safetensors");
    expect(await danlu("convert", lora, there, "--to", "diffusers")).toMatch(
      /kohya -> diffusers layout \(sd15\)/,
    );
    await danlu("convert", there, back, "--to", "kohya");
    const [a, b] = await Promise.all([readSafetensorsHeader(lora), readSafetensorsHeader(back)]);
    expect(b.tensors).toEqual(a.tensors);
    const info = await danlu("info", lora, "--no-modules");
    expect(info).toMatch(/trigger words: zkz \(trigger_phrase\)/);
    expect(info).toMatch(/IN01 .* 1 modules/);
    expect(info).toMatch(/BASE .* 1 modules/);
    const bad = await runCli(["lora", "convert", lora, join(dir, "x.safetensors"), "--to", "onnx"]);
    expect(bad.code).not.toBe(0);
  }, 120_000);

  it("reads the layouts its own convert writes: info and resize of diffusers and ComfyUI files", async () => {
    for (const layout of ["diffusers", "comfyui"] as const) {
      const converted = join(dir, `two-${layout}.safetensors`);
      await danlu("convert", lora, converted, "--to", layout);
      const info = await danlu("info", converted, "--no-modules");
      expect(info).toContain(`layout: ${layout}`);
      expect(info).toMatch(/trigger words: zkz \(trigger_phrase\)/);
      expect(info).toMatch(/IN01 .* 1 modules/);

      const resized = join(dir, `resized-${layout}.safetensors`);
      const result = JSON.parse(await danlu("resize", converted, resized, "--rank", "1", "--json")) as {
        modules: { new_rank: number }[];
      };
      expect(result.modules.map((m) => m.new_rank)).toEqual([1, 1]);
      // Written back in the layout it came in, and danlu reads it.
      expect(await danlu("info", resized, "--no-modules")).toMatch(
        new RegExp(`layout: ${layout}[^]*UNet: 1 modules \\(1 lora\\), rank 1`),
      );
    }
  }, 600_000);
});
