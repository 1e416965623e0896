import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import { formatLoraInfo } from "../format-info.ts";
import { describeLora } from "../describe.ts";
import { readLoraInfo } from "../lora-info.ts";
import { writeSafetensors, type TensorToWrite } from "../safetensors.ts";
import { convertLora } from "./convert.ts";

let dir = "";
const tensor = (...shape: number[]): TensorToWrite => ({
  dtype: "F32",
  shape,
  data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)),
});
const MODULE = "lora_unet_down_blocks_0_attentions_0_proj_in";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "danlu-convert-kinds-"));
  await writeSafetensors(
    join(dir, "loha.safetensors"),
    {
      [`${MODULE}.hada_w1_a`]: tensor(8, 2),
      [`${MODULE}.hada_w1_b`]: tensor(2, 8),
      [`${MODULE}.hada_w2_a`]: tensor(8, 2),
      [`${MODULE}.hada_w2_b`]: tensor(2, 8),
      [`${MODULE}.alpha`]: tensor(),
    },
    { ss_base_model_version: "sd_v1", ss_network_module: "lycoris.kohya" },
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("which tools load a LyCORIS file", () => {
  it("lora convert --to diffusers refuses a LoHa file, naming the kind and what loads it", async () => {
    const error = await convertLora(join(dir, "loha.safetensors"), join(dir, "out.safetensors"), {
      to: "diffusers",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).message).toContain("holds LoHa modules");
    expect((error as DanluError).hint).toContain("loads in: A1111/Forge, ComfyUI; not diffusers");
    expect((error as DanluError).hint).toContain("danlu lora bake");
  });

  it("lora info says where the file loads", async () => {
    const info = await readLoraInfo(join(dir, "loha.safetensors"), { hash: false });
    const text = formatLoraInfo(info, describeLora(info), false);
    expect(text).toContain("loads in: A1111/Forge, ComfyUI; not diffusers (it does not read LoHa modules)");
  });
});
