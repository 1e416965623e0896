import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeSafetensors, type TensorToWrite } from "./safetensors.ts";
import { mergeLoras, resizeLora } from "./tools.ts";

const f32 = (...shape: number[]): TensorToWrite => ({
  dtype: "F32",
  shape,
  data: new Uint8Array(shape.reduce((a, b) => a * b, 1) * 4),
});

async function files(): Promise<{ root: string; lora: string; loha: string }> {
  const root = mkdtempSync(join(tmpdir(), "danlu-lora-tools-"));
  const name = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const lora = join(root, "lora.safetensors");
  await writeSafetensors(lora, {
    [`${name}.lora_down.weight`]: f32(2, 8),
    [`${name}.lora_up.weight`]: f32(8, 2),
  });
  const loha = join(root, "loha.safetensors");
  await writeSafetensors(loha, {
    [`${name}.hada_w1_a`]: f32(8, 2),
    [`${name}.hada_w1_b`]: f32(2, 8),
    [`${name}.hada_w2_a`]: f32(8, 2),
    [`${name}.hada_w2_b`]: f32(2, 8),
  });
  return { root, lora, loha };
}

describe("resize and merge of LyCORIS kinds", () => {
  it("resize refuses a LoHa naming the kind and saying to keep or bake it, before the engine starts", async () => {
    const { root, loha } = await files();
    const out = join(root, "small.safetensors");
    await expect(resizeLora({ input: loha, out, rank: 1, method: "fixed" })).rejects.toThrow(
      /loha\.safetensors is a LoHa network: danlu lora resize works only on LoRA\/LoCon files/,
    );
    await expect(resizeLora({ input: loha, out, rank: 1, method: "fixed" })).rejects.toMatchObject({
      hint: expect.stringMatching(/Keep the file as it is, or bake it/) as unknown,
    });
  });

  it("merge refuses a LoHa among LoRAs saying why and to bake instead", async () => {
    const { root, lora, loha } = await files();
    const inputs = [
      { path: lora, weight: 1 },
      { path: loha, weight: 0.5 },
    ];
    await expect(
      mergeLoras({ inputs, out: join(root, "m.safetensors"), mode: "svd", rank: 2 }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/LoHa network: danlu lora merge .*kernel size/) as unknown,
      hint: expect.stringMatching(/danlu lora bake MODEL/) as unknown,
    });
  });
});
