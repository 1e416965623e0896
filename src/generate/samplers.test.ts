import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildGenerateSpec, type GenOptions } from "./gen.ts";
import { A1111_SAMPLERS, canonicalSampler, refusedSamplerReason } from "./samplers.ts";

function options(sampler: string): GenOptions {
  const root = mkdtempSync(join(tmpdir(), "danlu-samplers-"));
  writeFileSync(join(root, "model.safetensors"), "");
  return {
    model: join(root, "model.safetensors"),
    prompt: "a cat",
    negative: "",
    loras: [],
    loraDir: root,
    embeddingsDir: root,
    sampler,
    steps: 20,
    cfg: 7,
    width: 512,
    height: 512,
    seed: 1,
    batchCount: 1,
    batchSize: 1,
    clipSkip: 1,
    strength: 0.75,
    out: join(root, "out"),
    device: "cpu",
    precision: "no",
  };
}

describe("DPM++ 2S a (ancestral) has no diffusers scheduler", () => {
  it("is refused with what to use instead, never mapped to the non-ancestral solver", () => {
    expect(canonicalSampler("DPM++ 2S a")).toBeUndefined();
    expect(refusedSamplerReason("dpm++ 2s a")).toMatch(/no ancestral DPM\+\+ 2S.*Use DPM\+\+ 2S/s);
    expect(() => buildGenerateSpec(options("DPM++ 2S a"))).toThrow(
      /--sampler "DPM\+\+ 2S a" is not available/,
    );
  });

  it("offers the non-ancestral solver under its own name", () => {
    expect(A1111_SAMPLERS).toContain("DPM++ 2S");
    expect(buildGenerateSpec(options("dpm++ 2s")).jobs[0]?.sampler).toBe("DPM++ 2S");
  });
});
