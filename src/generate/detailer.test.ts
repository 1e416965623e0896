import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { addDetailFields, checkDetailOptions, detailFields, maskBox } from "./detailer.ts";
import { parseParameters } from "./parameters.ts";
import { readPngText, withPngText } from "./png-text.ts";

const TEXT =
  "photo of alice, smiling\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 42, " +
  'Size: 512x768, Model: sd15, Clip skip: 1, Lora hashes: "alice: 0123456789ab"';

describe("the face pass's parameters text", () => {
  it("adds ADetailer's keys before the LoRA hashes, and they parse back", () => {
    const p = checkDetailOptions({ prompt: "detailed face, sharp eyes", steps: 12 });
    const text = addDetailFields(TEXT, detailFields(p, 512, { width: 512, height: 768 }));
    expect(text.split("\n").at(-1)).toMatch(
      /Clip skip: 1, ADetailer model: blazeface, ADetailer prompt: "detailed face, sharp eyes", ADetailer confidence: 0.3, ADetailer dilate erode: 4, ADetailer mask blur: 4, ADetailer denoising strength: 0.4, ADetailer inpaint only masked: True, ADetailer inpaint padding: 32, ADetailer use inpaint width height: True, ADetailer inpaint width: 512, ADetailer inpaint height: 512, ADetailer use separate steps: True, ADetailer steps: 12, ADetailer version: danlu-[\d.]+, Lora hashes: "alice: 0123456789ab"$/,
    );
    const parsed = parseParameters(text);
    expect(parsed).toMatchObject({ prompt: "photo of alice, smiling", seed: 42, width: 512, height: 768 });
    expect(parsed.loraHashes).toEqual({ alice: "0123456789ab" });
    expect(parsed.detail).toEqual({
      model: "blazeface",
      prompt: "detailed face, sharp eyes",
      negative: "",
      confidence: 0.3,
      dilateErode: 4,
      maskBlur: 4,
      denoising: 0.4,
      onlyMasked: true,
      padding: 32,
      width: 512,
      height: 512,
      steps: 12,
    });
    expect(parsed.strength).toBeUndefined(); // the face pass's denoising is ADetailer's key, not img2img's
  });

  it("leaves out what ADetailer leaves out and replaces earlier ADetailer keys", () => {
    const p = checkDetailOptions({ denoising: 0.3 });
    const once = addDetailFields(
      TEXT,
      detailFields(checkDetailOptions({}), 512, { width: 512, height: 768 }),
    );
    const twice = addDetailFields(once, detailFields(p, 512, { width: 512, height: 512 }));
    expect(twice).not.toContain("ADetailer prompt");
    expect(twice).not.toContain("inpaint width");
    expect(twice.match(/ADetailer model/g)).toHaveLength(1);
    expect(parseParameters(twice).detail).toMatchObject({ denoising: 0.3, prompt: "" });
  });

  it("refuses out-of-range settings naming the flag", () => {
    expect(() => checkDetailOptions({ denoising: 0 })).toThrow(/--detail-denoising 0/);
    expect(() => checkDetailOptions({ confidence: 2 })).toThrow(/--detail-confidence 2/);
    expect(() => checkDetailOptions({ size: 100 })).toThrow(/--detail-size 100/);
    expect(() => checkDetailOptions({ prompt: "face <lora:x:1>" })).toThrow(/image's LoRAs/);
  });
});

describe("maskBox", () => {
  it("grows the face box by whole pixels inside the image, shrinks it when negative", () => {
    const box = { x: 10.4, y: 20.6, width: 30, height: 40 };
    expect(maskBox(box, 4, 100, 62)).toEqual({ left: 6, top: 16, right: 45, bottom: 62 });
    expect(maskBox(box, -3, 100, 100)).toEqual({ left: 13, top: 23, right: 38, bottom: 58 });
    expect(maskBox(box, -30, 100, 100)).toBeUndefined();
  });
});

describe("PNG text", () => {
  it("replaces the parameters chunk, Latin-1 as tEXt and other text as iTXt, pixels unchanged", async () => {
    const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#3a7" } })
      .png()
      .toBuffer();
    const latin = withPngText(png, "parameters", "café\nSteps: 1");
    expect(readPngText(latin).get("parameters")).toBe("café\nSteps: 1");
    const chinese = withPngText(latin, "parameters", "汉服 portrait");
    expect([...readPngText(chinese)]).toEqual([["parameters", "汉服 portrait"]]);
    expect((await sharp(chinese).metadata()).comments).toEqual([
      { keyword: "parameters", text: "汉服 portrait" },
    ]);
    const pixels = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString("hex");
    expect(await pixels(chinese)).toBe(await pixels(png));
  });
});
