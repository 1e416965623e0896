import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { engineLauncher } from "../../engine/python.ts";
import { readSafetensorsHeader } from "../safetensors.ts";
import { convertLora } from "./convert.ts";
import { diffusersToLdm, ldmToDiffusers, underscoredToPath } from "./names.ts";

/**
 * Names against the engine's diffusers <-> LDM map (engine/danlu_engine/models/ldm_keys.py) on the real SD1.5
 * and SDXL architectures; round trips bit-identical; diffusers' load_lora_weights reads the converted file
 * and changes the model as danlu's own per-module hooks do with the kohya file. Python runs twice (prepare, check).
 */
type PythonNames = Record<"sd15" | "sdxl", { unet: [string, string | null][]; te: string[] }>;
const dir = mkdtempSync(join(tmpdir(), "danlu-convert-"));
let names: PythonNames;

function python(args: string[]): string {
  const launcher = engineLauncher();
  return execFileSync(launcher.executable, [join("engine", "tests", "lora_convert_helper.py"), ...args], {
    env: { ...process.env, ...launcher.env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
}

beforeAll(() => {
  names = JSON.parse(python(["prepare", dir])) as PythonNames;
}, 300_000);

describe("module names", () => {
  it("map diffusers <-> LDM UNet paths as the engine does, both ways", () => {
    for (const [arch, family] of [
      ["sd15", "sd"],
      ["sdxl", "sdxl"],
    ] as const) {
      expect(names[arch].unet.length).toBeGreaterThan(250);
      for (const [diffusers, ldm] of names[arch].unet) {
        expect(diffusersToLdm(diffusers, family), diffusers).toBe(ldm);
        if (ldm !== null) expect(ldmToDiffusers(ldm, family), ldm).toBe(diffusers);
      }
    }
  });

  it("undo kohya's '_' joins for every UNet (diffusers and LDM) and CLIP path", () => {
    const paths = Object.values(names).flatMap((n) => [...n.unet.flat(), ...n.te]);
    for (const path of paths) {
      if (path !== null) expect(underscoredToPath(path.replaceAll(".", "_"))).toBe(path);
    }
  });
});

async function tensorBytes(path: string): Promise<Record<string, string>> {
  const header = await readSafetensorsHeader(path);
  const data = readFileSync(path).subarray(header.dataStart);
  return Object.fromEntries(
    Object.entries(header.tensors).map(([k, e]) => [k, data.subarray(...e.data_offsets).toString("hex")]),
  );
}

describe("convert", () => {
  it("kohya -> diffusers -> kohya and kohya -> ComfyUI -> kohya are bit-identical (SD1.5, SDXL)", async () => {
    for (const arch of ["sd15", "sdxl"]) {
      const kohya = join(dir, `${arch}.safetensors`);
      const original = await readSafetensorsHeader(kohya);
      for (const layout of ["diffusers", "comfyui"] as const) {
        const there = join(dir, `${arch}-${layout}.safetensors`);
        const back = join(dir, `${arch}-${layout}-back.safetensors`);
        const report = await convertLora(kohya, there, { to: layout });
        expect(report).toMatchObject({ from: "kohya", to: layout, arch });
        expect((await convertLora(there, back, { to: "kohya" })).from).toBe(layout);
        const again = await readSafetensorsHeader(back);
        expect(again.metadata).toEqual(original.metadata); // sshs_model_hash included: same data section
        expect(again.tensors).toEqual(original.tensors);
        expect(await tensorBytes(back)).toEqual(await tensorBytes(kohya));
      }
      const comfy = await readSafetensorsHeader(join(dir, `${arch}-comfyui.safetensors`));
      const keys = Object.keys(comfy.tensors);
      expect(keys.some((k) => k.startsWith("diffusion_model.middle_block.1."))).toBe(true);
      expect(keys.some((k) => k.startsWith("text_encoders.clip_l.transformer.text_model."))).toBe(true);
    }
  });

  it("diffusers' load_lora_weights applies the converted file as the kohya file's modules apply", () => {
    const result = JSON.parse(python(["check", dir])) as Record<
      string,
      { max_diff: number; lora_effect: number }
    >;
    for (const arch of ["sd15", "sdxl"]) {
      expect(result[arch]?.lora_effect).toBeGreaterThan(1e-3);
      expect(result[arch]?.max_diff).toBeLessThan(1e-4);
    }
  }, 300_000);

  it("refuses to overwrite its input", async () => {
    const kohya = join(dir, "sd15.safetensors");
    await expect(convertLora(kohya, kohya, { to: "diffusers" })).rejects.toThrow(/is the input/);
  });
});
