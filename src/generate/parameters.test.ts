import { describe, expect, it } from "vitest";
import { parseParameters } from "./parameters.ts";

describe("parseParameters", () => {
  it("reads A1111's txt2img text with hires fix, quoted LoRA hashes and a multi-line prompt", () => {
    const text =
      "a cat,\n(red scarf:1.2)\nNegative prompt: blurry, lowres\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, " +
      "Seed: 42, Size: 512x768, Model hash: 6ce0161689, Model: sd15, Denoising strength: 0.7, Clip skip: 2, " +
      'Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent (nearest), Lora hashes: "alice: 0123456789ab, b: ffffffffffff"';
    expect(parseParameters(text)).toMatchObject({
      prompt: "a cat,\n(red scarf:1.2)",
      negative: "blurry, lowres",
      steps: 20,
      sampler: "DPM++ 2M Karras",
      cfg: 7,
      seed: 42,
      width: 512,
      height: 768,
      modelHash: "6ce0161689",
      model: "sd15",
      clipSkip: 2,
      hires: { scale: 2, steps: 10, denoising: 0.7, upscaler: "Latent (nearest)" },
      loraHashes: { alice: "0123456789ab", b: "ffffffffffff" },
    });
    expect(parseParameters(text).strength).toBeUndefined();
  });

  it("reads inpainting: mask blur, masked content, only masked with its padding; defaults when absent", () => {
    const base =
      "x\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64, Model: m, Denoising strength: 0.5";
    expect(
      parseParameters(
        `${base}, Mask blur: 2, Masked content: latent noise, Inpaint area: Only masked, Masked area padding: 8`,
      ),
    ).toMatchObject({
      strength: 0.5,
      inpaint: { maskBlur: 2, maskedContent: "latent-noise", area: "masked", padding: 8 },
    });
    expect(parseParameters(`${base}, Mask blur: 4`).inpaint).toEqual({
      maskBlur: 4,
      maskedContent: "original",
      area: "whole",
      padding: 32,
    });
    expect(parseParameters(base)).not.toHaveProperty("inpaint");
  });

  it("a text without a settings line is all prompt", () => {
    expect(parseParameters("just a prompt")).toEqual({ prompt: "just a prompt", negative: "", fields: {} });
  });
});
