// The generate page's data against the server's own definitions (no browser): the sampler list and
// defaults it copies, the params it sends (checked by the gen kind's schema), the API field → control
// mapping, and its strings (every key it uses exists, in English and Chinese).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { DETAIL_DEFAULTS } from "../src/generate/detailer.ts";
import { GEN_DEFAULTS, HIRES_DEFAULTS } from "../src/generate/gen.ts";
import { A1111_SAMPLERS } from "../src/generate/samplers.ts";
import { gen } from "../src/jobs/kinds/generate.ts";
import {
  controlOf,
  defaultForm,
  DETAIL_FORM_DEFAULTS,
  fromParams,
  GEN_FORM_DEFAULTS,
  HIRES_FORM_DEFAULTS,
  HIRES_UPSCALERS,
  newLoraRow,
  SAMPLERS,
  seedOf,
  STRENGTH_DEFAULT,
  toParams,
} from "../web/src/pages/generate-params.ts";

type Strings = Record<string, { en: string; zh: string }>;

/**
 * A web/src/i18n file's strings, imported by a path TypeScript does not follow: those files reach preact,
 * whose types would bring the DOM's into this Node project's type-check.
 */
async function stringsOf(area: string): Promise<Strings> {
  const path = join(REPO_ROOT, "web", "src", "i18n", `${area}.ts`);
  return ((await import(path)) as Record<string, Strings>)[area]!;
}

describe("generate page data", () => {
  it("lists the server's samplers and uses its defaults", () => {
    expect([...SAMPLERS]).toEqual([...A1111_SAMPLERS]);
    expect(GEN_FORM_DEFAULTS).toEqual({
      negative: GEN_DEFAULTS.negative,
      sampler: GEN_DEFAULTS.sampler,
      steps: GEN_DEFAULTS.steps,
      cfg: GEN_DEFAULTS.cfg,
      width: GEN_DEFAULTS.width,
      height: GEN_DEFAULTS.height,
      seed: GEN_DEFAULTS.seed,
      batch_count: GEN_DEFAULTS.batchCount,
    });
  });

  it("sends params the gen kind accepts, and reads them back", () => {
    const form = {
      ...defaultForm(),
      model: "sd15.safetensors",
      prompt: "(cat:1.2) BREAK <lora:mine:0.8>",
      cfg: "6.5",
      loras: [newLoraRow("j-0123456789abcdef0123", "mine.safetensors", "0.8"), newLoraRow()],
    };
    const params = toParams(form);
    const parsed = gen.params.safeParse(params);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(params.loras).toEqual([{ job: "j-0123456789abcdef0123", file: "mine.safetensors", weight: 0.8 }]);
    const back = fromParams(parsed.data as Record<string, unknown>, defaultForm());
    expect({ ...back, loras: [] }).toEqual({ ...form, loras: [] });
    expect(back.loras.map(({ job, file, weight }) => ({ job, file, weight }))).toEqual([
      { job: "j-0123456789abcdef0123", file: "mine.safetensors", weight: "0.8" },
    ]);
  });

  it("sends hires fix and face detailing as the gen kind takes them, with the server's defaults", () => {
    expect(HIRES_FORM_DEFAULTS).toEqual({ scale: 2, ...HIRES_DEFAULTS });
    expect(DETAIL_FORM_DEFAULTS.denoising).toBe(DETAIL_DEFAULTS.denoising);
    expect([...HIRES_UPSCALERS]).toContain(HIRES_DEFAULTS.upscaler);
    const base = { ...defaultForm(), model: "sd15.safetensors", prompt: "a cat" };
    expect(toParams(base)).not.toHaveProperty("hires");
    expect(toParams(base)).not.toHaveProperty("detail_faces");
    const form = {
      ...base,
      hires: { on: true, scale: "1.5", steps: "8", denoising: "0.55", upscaler: "Lanczos" },
      detail: { on: true, prompt: "a smiling face", denoising: "0.3" },
    };
    const params = toParams(form);
    const parsed = gen.params.safeParse(params);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(parsed.data).toMatchObject({
      hires: { scale: 1.5, steps: 8, denoising: 0.55, upscaler: "Lanczos" },
      detail_faces: { prompt: "a smiling face", denoising: 0.3 },
    });
    // reusing it turns both on with its values; reusing a plain one turns them off again
    const back = fromParams(parsed.data as Record<string, unknown>, defaultForm());
    expect({ hires: back.hires, detail: back.detail }).toEqual({ hires: form.hires, detail: form.detail });
    const plain = fromParams(toParams(base), back);
    expect([plain.hires.on, plain.detail.on]).toEqual([false, false]);
  });

  it("sends img2img from a generated image (and no hires fix with it), and reads it back", () => {
    expect(STRENGTH_DEFAULT).toBe(GEN_DEFAULTS.strength);
    const form = {
      ...defaultForm(),
      model: "sd15.safetensors",
      prompt: "a cat",
      init: { job: "j-0123456789abcdef0123", file: "images/00001-43.png" },
      strength: "0.5",
      hires: { on: true, scale: "2", steps: "0", denoising: "0.7", upscaler: "Latent" },
    };
    const params = toParams(form);
    const parsed = gen.params.safeParse(params);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(params).toMatchObject({ init_image: form.init, strength: 0.5 });
    expect(params).not.toHaveProperty("hires");
    const back = fromParams(parsed.data as Record<string, unknown>, defaultForm());
    expect([back.init, back.strength]).toEqual([form.init, "0.5"]);
    expect(fromParams(toParams(defaultForm()), back).init).toBeNull();
    expect(controlOf("params.init_image.file")).toBe("init");
  });

  it("finds the control an API error names, and an image's seed", () => {
    expect(controlOf("params.hires.denoising")).toBe("hires");
    expect(controlOf("params.detail_faces.denoising")).toBe("detail_faces");
    expect(controlOf("params.steps")).toBe("steps");
    expect(controlOf("params.loras.1.weight")).toBe("loras");
    expect(controlOf("params.batch_count")).toBe("batch_count");
    expect(controlOf("priority")).toBeNull();
    expect(controlOf(undefined)).toBeNull();
    expect(seedOf("images/00012-4294967295.png")).toBe(4294967295);
    expect(seedOf("images/cover.png")).toBeNull();
  });

  it("has every string it uses, in English and in Chinese", async () => {
    const generate = await stringsOf("generate");
    const strings = { ...(await stringsOf("common")), ...generate };
    const dir = join(REPO_ROOT, "web", "src", "pages");
    const source = readdirSync(dir)
      .filter((name) => name.startsWith("generate"))
      .map((name) => readFileSync(join(dir, name), "utf8"))
      .join("\n");
    const used = new Set([...source.matchAll(/\bt\(\s*"([\w.]+)"/g)].map((match) => match[1]!));
    // keys put together at run time
    for (const state of ["queued", "running", "succeeded", "failed", "cancelled"]) used.add(`state.${state}`);
    for (const part of ["weight", "lower", "lora", "break"])
      used.add(`gen.syntax.${part}`).add(`gen.syntax.${part}.code`);
    for (const phase of ["load_model", "sample", "generating", "preparing", "working"])
      used.add(`gen.phase.${phase}`);
    expect([...used].filter((key) => !strings[key])).toEqual([]);
    expect(Object.keys(generate).filter((key) => !used.has(key))).toEqual([]);
    for (const [key, { en, zh }] of Object.entries(generate)) {
      expect(en.trim(), key).not.toBe("");
      // Chinese keeps only names and syntax in Latin letters ({placeholders} aside): LoRA, A1111's BREAK,
      // lora in <lora:…>, and the models folder's name
      const latin = (zh.replace(/\{\w+\}/g, "").match(/[A-Za-z]{2,}/g) ?? []).filter(
        (w) => !["LoRA", "lora", "BREAK", "models"].includes(w),
      );
      expect(latin, `${key}: ${zh}`).toEqual([]);
    }
  });
});
