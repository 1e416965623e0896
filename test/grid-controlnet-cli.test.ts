// `danlu grid --controlnet`: every cell of the grid draws with the ControlNet unit; each cell's map is saved
// beside it and its PNG text names the unit (tiny SD1.5, a tiny ControlNet, a one-module LoRA file).
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { expect, it } from "vitest";
import { makeTinySd15, runCli } from "./cli.ts";

/** A kohya LoRA with one module (the tiny SD1.5's first proj_in, 16 channels, 1x1), rank 2. */
function writeTinyLora(path: string): void {
  const name = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const tensors: [string, number[], number[]][] = [
    [`${name}.lora_down.weight`, [2, 16, 1, 1], Array.from({ length: 32 }, (_, i) => ((i % 5) - 2) / 10)],
    [`${name}.lora_up.weight`, [16, 2, 1, 1], Array.from({ length: 32 }, (_, i) => ((i % 3) - 1) / 10)],
    [`${name}.alpha`, [], [1]],
  ];
  const header: Record<string, unknown> = { __metadata__: { ss_network_module: "networks.lora" } };
  let offset = 0;
  for (const [key, shape, values] of tensors) {
    header[key] = { dtype: "F32", shape, data_offsets: [offset, offset + values.length * 4] };
    offset += values.length * 4;
  }
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.from(new Float32Array(tensors.flatMap(([, , v]) => v)).buffer);
  writeFileSync(path, Buffer.concat([size, json, data]));
}

it("draws every cell with the unit, saves each cell's map and names the unit in its PNG text", async () => {
  const root = mkdtempSync(join(tmpdir(), "danlu-grid-cn-"));
  const model = join(root, "sd15.safetensors");
  const controlnet = join(root, "control_sd15_canny.safetensors");
  await makeTinySd15(model);
  await makeTinySd15(controlnet, "--controlnet");
  writeTinyLora(join(root, "lora.safetensors"));
  const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
  await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toFile(join(root, "edges.png"));
  const out = join(root, "grid");
  const run = await runCli([
    ...["grid", join(root, "lora.safetensors"), "--model", model, "--prompt", "a cat", "--x", "seed=1,2"],
    ...["--steps", "2", "--width", "64", "--height", "64", "--device", "cpu", "--out", out],
    ...["--controlnet", `${controlnet}:${join(root, "edges.png")}:0.7`],
  ]);
  expect(run.code, run.stderr).toBe(0);
  for (const [x, seed] of [
    [0, 1],
    [1, 2],
  ]) {
    const cell = join(out, "cells", `cell-z0-y0-x${x}-${seed}.png`);
    expect(existsSync(join(out, "cells", `cell-z0-y0-x${x}-${seed}-control0-canny.png`))).toBe(true);
    const text = (await sharp(cell).metadata()).comments?.find((c) => c.keyword === "parameters")?.text;
    expect(text).toContain('ControlNet 0: "Module: canny, Model: control_sd15_canny [');
    expect(text).toContain("Weight: 0.7");
  }
}, 300_000);
