import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLoraInfo } from "./lora-info.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const PYTHON = join(ROOT, ".venv/bin/python");
type Kind = "locon" | "loha" | "loha_tucker" | "lokr" | "lokr_tucker" | "lokr_both" | "ia3" | "dora";

/**
 * Files written by the engine's own network code (danlu_engine.network) for each LyCORIS kind, on a tiny
 * module tree whose block class names are the ones the targets look for: a 1x1 conv and a Linear inside a
 * Transformer2DModel, a 3x3 conv inside a ResnetBlock2D.
 */
const SCRIPT = `
import sys, torch
from torch import nn
from danlu_engine.network import NetworkOptions, build_network, save_lora_file
from danlu_engine.network.setup import network_metadata
class Transformer2DModel(nn.Module):
    def __init__(self):
        super().__init__(); self.proj_in = nn.Conv2d(64, 64, 1); self.to_q = nn.Linear(64, 128)
class ResnetBlock2D(nn.Module):
    def __init__(self):
        super().__init__(); self.conv1 = nn.Conv2d(64, 64, 3, padding=1)
unet = nn.Module(); unet.attentions = Transformer2DModel(); unet.resnets = ResnetBlock2D()
kinds = {"locon": dict(), "loha": dict(module="lycoris", algo="loha"),
         "loha_tucker": dict(module="lycoris", algo="loha", use_tucker=True),
         "lokr": dict(module="lycoris", algo="lokr"), "lokr_tucker": dict(module="lycoris", algo="lokr", use_tucker=True),
         "lokr_both": dict(module="lycoris", algo="lokr", factor=16, decompose_both=True),
         "ia3": dict(module="lycoris", algo="ia3"), "dora": dict(module="lycoris", algo="locon", dora_wd=True)}
for name, options in kinds.items():
    opts = NetworkOptions(**{"dim": 2, "alpha": 1.0, "conv_dim": 2, "conv_alpha": 1.0, "train_text_encoder": False,
                             **options})
    network = build_network(unet, [], opts)
    save_lora_file(f"{sys.argv[1]}/{name}.safetensors", network.kohya_state_dict(), "fp16",
                   network_metadata(opts, network) | {"ss_base_model_version": "sd_v1"})
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-lora-kinds-"));
  await promisify(execFile)(PYTHON, ["-c", SCRIPT, dir], { cwd: join(ROOT, "engine") });
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modules(kind: Kind): Promise<string[]> {
  const info = await readLoraInfo(join(dir, `${kind}.safetensors`));
  return info.modules.map((m) => `${m.name.replace("lora_unet_", "")} ${m.kind} ${m.rank ?? "-"}`);
}

describe("danlu lora info on the engine's LyCORIS files", () => {
  it("recognises each kind and its rank", async () => {
    expect(await modules("locon")).toEqual([
      "attentions_proj_in lora 2",
      "attentions_to_q lora 2",
      "resnets_conv1 locon 2",
    ]);
    for (const kind of ["loha", "loha_tucker"] as const) {
      expect(await modules(kind)).toEqual([
        "attentions_proj_in loha 2",
        "attentions_to_q loha 2",
        "resnets_conv1 loha 2",
      ]);
    }
    for (const kind of ["lokr", "lokr_tucker", "lokr_both"] as const) {
      expect((await modules(kind)).map((m) => m.split(" ")[1])).toEqual(["lokr", "lokr", "lokr"]);
    }
    expect(await modules("lokr_tucker")).toContain("resnets_conv1 lokr 2");
    expect(await modules("lokr_both")).toContain("attentions_to_q lokr 2");
    expect(await modules("ia3")).toEqual([
      "attentions_proj_in ia3 -",
      "attentions_to_q ia3 -",
      "resnets_conv1 ia3 -",
    ]);
    expect(await modules("dora")).toEqual([
      "attentions_proj_in dora 2",
      "attentions_to_q dora 2",
      "resnets_conv1 dora 2",
    ]);
  });

  it("reads the network module from the metadata", async () => {
    const info = await readLoraInfo(join(dir, "loha.safetensors"));
    expect(info.metadata["ss_network_module"]).toBe("lycoris.kohya");
    expect(JSON.parse(info.metadata["ss_network_args"] ?? "null")).toBeNull();
  });
});
