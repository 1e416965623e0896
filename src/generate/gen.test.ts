import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generateSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { buildGenerateSpec, nextImageNumber, usedEmbeddings, type GenOptions } from "./gen.ts";
import { parseLoraFlag, resolveLoras } from "./loras.ts";
import { canonicalSampler } from "./samplers.ts";

let root = "";
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "danlu-gen-unit-"));
  mkdirSync(join(root, "loras"));
  for (const name of ["alice", "style_v2"]) writeFileSync(join(root, "loras", `${name}.safetensors`), "");
  writeFileSync(join(root, "model.safetensors"), "");
  mkdirSync(join(root, "emb"));
  writeFileSync(join(root, "emb", "easyneg.safetensors"), "");
  writeFileSync(join(root, "emb", "unused.pt"), "");
});

function options(changes: Partial<GenOptions> = {}): GenOptions {
  return {
    model: join(root, "model.safetensors"),
    prompt: "photo of alice <lora:alice:0.7>",
    negative: "easyneg, blurry",
    loras: [],
    loraDir: join(root, "loras"),
    embeddingsDir: join(root, "emb"),
    sampler: "dpm++ sde karras",
    steps: 20,
    cfg: 7,
    width: 512,
    height: 768,
    seed: 42,
    batchCount: 2,
    batchSize: 1,
    clipSkip: 2,
    strength: 0.75,
    out: join(root, "out"),
    device: "cpu",
    precision: "no",
    ...changes,
  };
}

describe("buildGenerateSpec", () => {
  it("resolves prompt LoRAs, embeddings by name and the sampler's A1111 spelling into a valid spec", () => {
    const spec = buildGenerateSpec(options());
    expect(generateSpec.safeParse(spec).success).toBe(true);
    const job = spec.jobs[0]!;
    expect(job.sampler).toBe("DPM++ SDE Karras");
    expect(job.loras).toEqual([
      { path: join(root, "loras", "alice.safetensors"), name: "alice", unet_weight: 0.7, te_weight: 0.7 },
    ]);
    expect(spec.embeddings).toEqual([join(root, "emb", "easyneg.safetensors")]);
    expect(job.prompt.sections).toEqual([[{ text: "photo of alice ", weight: 1 }]]);
    expect(job.file_prefix).toBe("00000");
  });

  it("a seed of -1 draws one", () => {
    expect(buildGenerateSpec(options({ seed: -1 }), () => 777).jobs[0]!.seed).toBe(777);
  });

  it("rejects an unknown sampler and a size that is not a multiple of 8", () => {
    expect(() => buildGenerateSpec(options({ sampler: "fast" }))).toThrow(/not a sampler.*/);
    expect(() => buildGenerateSpec(options({ width: 500 }))).toThrow(/multiple of 8/);
  });
});

describe("LoRA resolution", () => {
  it("reads FILE[:weight] flags", () => {
    expect(parseLoraFlag("a/b.safetensors:0.6")).toEqual({ path: "a/b.safetensors", weight: 0.6 });
    expect(parseLoraFlag("a/b.safetensors")).toEqual({ path: "a/b.safetensors", weight: 1 });
  });

  it("finds <lora:name> beside a --lora file, and lists the names when one is unknown", () => {
    const flag = { path: join(root, "loras", "style_v2.safetensors"), weight: 0.5 };
    const loras = resolveLoras([flag], [{ name: "alice", teWeight: 1, unetWeight: 0.3 }], undefined);
    expect(loras.map((l) => [l.name, l.te_weight, l.unet_weight])).toEqual([
      ["style_v2", 0.5, 0.5],
      ["alice", 1, 0.3],
    ]);
    let error: unknown;
    try {
      resolveLoras([], [{ name: "bob", teWeight: 1, unetWeight: 1 }], join(root, "loras"));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).message).toMatch(/no bob\.safetensors/);
    expect((error as DanluError).hint).toBe("LoRAs there: alice, style_v2.");
  });
});

it("numbers images after the highest in the folder and finds embeddings as whole words", () => {
  const out = join(root, "numbered");
  mkdirSync(out);
  writeFileSync(join(out, "00007-1.png"), "");
  expect(nextImageNumber(out)).toBe(8);
  expect(usedEmbeddings(join(root, "emb"), ["easynegx"])).toEqual([]);
  expect(canonicalSampler("EULER A")).toBe("Euler a");
});

describe("inpaint and hires blocks", () => {
  it("fill A1111's defaults, round the hires size down to a multiple of 8, and refuse bad combinations", () => {
    const image = join(root, "emb", "unused.pt"); // any existing file: sizes are checked in runGenerate
    const inpainted = buildGenerateSpec(
      options({ initImage: image, inpaint: { mask: image, area: "masked" } }),
    );
    expect(inpainted.jobs[0]!.inpaint).toEqual({
      mask: image,
      mask_blur: 4,
      masked_content: "original",
      only_masked: true,
      padding: 32,
    });
    expect(inpainted.jobs[0]!.hires).toBeNull();
    const hires = buildGenerateSpec(
      options({ width: 512, height: 520, hires: { scale: 1.5, upscaler: "lanczos" } }),
    );
    expect(hires.jobs[0]!.hires).toEqual({
      scale: 1.5,
      width: 768,
      height: 776,
      steps: 0,
      denoising: 0.7,
      upscaler: "Lanczos",
    });
    expect(generateSpec.safeParse(hires).success).toBe(true);
    expect(() => buildGenerateSpec(options({ inpaint: { mask: image } }))).toThrow(
      /--mask needs --init-image/,
    );
    expect(() => buildGenerateSpec(options({ initImage: image, hires: { scale: 2 } }))).toThrow(
      /is for txt2img/,
    );
    expect(() => buildGenerateSpec(options({ hires: { scale: 2, upscaler: "4x-UltraSharp" } }))).toThrow(
      /not an upscaler danlu knows/,
    );
    expect(() => buildGenerateSpec(options({ hires: { scale: 2, denoising: 0 } }))).toThrow(/above 0/);
  });
});
