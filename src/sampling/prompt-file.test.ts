import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { samplePrompt } from "../engine/spec.ts";
import { loadSamplePrompts, parseSamplePromptText } from "./prompt-file.ts";
import { SD_SCRIPTS_SAMPLE_DEFAULTS, type SamplePromptDefaults } from "./prompt-line.ts";

const defaults: SamplePromptDefaults = { ...SD_SCRIPTS_SAMPLE_DEFAULTS, sampler: "ddim", seed: 42 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-prompts-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("the sd-scripts prompt line format", () => {
  it("reads every option, skipping comments and blank lines", () => {
    const text = [
      "# samples for sks",
      "",
      "a photo of sks dog, outdoors --n lowres, blurry --w 768 --h 512 --d 1234 --s 28 --l 6.5 --ss k_euler_a",
      "  sks dog sleeping   ",
    ].join("\n");
    const { prompts, warnings } = parseSamplePromptText(text, defaults, "p.txt");
    expect(prompts).toEqual([
      {
        prompt: "a photo of sks dog, outdoors",
        negative_prompt: "lowres, blurry",
        width: 768,
        height: 512,
        seed: 1234,
        steps: 28,
        scale: 6.5,
        sampler: "euler_a",
      },
      {
        prompt: "sks dog sleeping",
        negative_prompt: "",
        width: 512,
        height: 512,
        seed: 42,
        steps: 30,
        scale: 7.5,
        sampler: "ddim",
      },
    ]);
    expect(warnings).toEqual([]);
    for (const p of prompts) expect(samplePrompt.parse(p)).toEqual(p);
  });

  it("takes option names in any case and rounds sizes down to a multiple of 8, as sd-scripts", () => {
    const { prompts } = parseSamplePromptText("cat --W 516 --H 100 --SS Euler", defaults, "p.txt");
    expect(prompts[0]).toMatchObject({ width: 512, height: 96, sampler: "euler" });
  });

  it("warns about options that do not apply to SD models", () => {
    const { prompts, warnings } = parseSamplePromptText("cat --g 3.5 --fs 3", defaults, "p.txt");
    expect(prompts[0]?.prompt).toBe("cat");
    expect(warnings).toEqual([
      "p.txt line 1: --g (guidance_scale) does not apply to SD sampling; ignored",
      "p.txt line 1: --fs (flow_shift) does not apply to SD sampling; ignored",
    ]);
  });

  it("names the file and line of a bad option", () => {
    const bad = (line: string): string => {
      try {
        parseSamplePromptText(`ok\n${line}`, defaults, "p.txt");
      } catch (error) {
        return (error as Error).message;
      }
      return "no error";
    };
    expect(bad("cat --w wide")).toBe('p.txt line 2: --w must be a whole number from 64 to 8192 (got "wide")');
    expect(bad("cat --s 0")).toMatch(/^p\.txt line 2: --s must be a whole number from 1 to 1000/);
    expect(bad("cat --l -1")).toMatch(/^p\.txt line 2: --l must be a number >= 0/);
    expect(bad("cat --ss dpm++2m")).toMatch(/^p\.txt line 2: --ss "dpm\+\+2m" is not a sampler/);
    expect(bad("cat --x 1")).toMatch(
      /^p\.txt line 2: unknown option --x \(options: --n --w --h --d --s --l --ss\)/,
    );
  });
});

describe("loadSamplePrompts", () => {
  it("reads a .txt file and refuses an empty one", async () => {
    const path = await file("p.txt", "cat --d 7\n");
    expect((await loadSamplePrompts(path, defaults)).prompts[0]?.seed).toBe(7);
    const empty = await file("empty.txt", "# nothing\n\n");
    await expect(loadSamplePrompts(empty, defaults)).rejects.toThrow(`${empty} has no prompts`);
  });

  it("reads sd-scripts' .toml list: [prompt] shared settings, [[prompt.subset]] prompts winning", async () => {
    const path = await file(
      "p.toml",
      `[prompt]\nwidth = 640\nsample_steps = 20\nnegative_prompt = "bad"\n\n` +
        `[[prompt.subset]]\nprompt = "a cat"\nseed = 1\n\n[[prompt.subset]]\nprompt = "a dog"\nwidth = 768\nscale = 5\n`,
    );
    const { prompts } = await loadSamplePrompts(path, defaults);
    expect(prompts).toEqual([
      {
        prompt: "a cat",
        negative_prompt: "bad",
        width: 640,
        height: 512,
        seed: 1,
        steps: 20,
        scale: 7.5,
        sampler: "ddim",
      },
      {
        prompt: "a dog",
        negative_prompt: "bad",
        width: 768,
        height: 512,
        seed: 42,
        steps: 20,
        scale: 5,
        sampler: "ddim",
      },
    ]);
  });

  it("reads sd-scripts' .json list of lines and objects", async () => {
    const path = await file(
      "p.json",
      JSON.stringify(["a cat --s 12", { prompt: "a dog", sample_sampler: "heun", height: 768 }]),
    );
    const { prompts } = await loadSamplePrompts(path, defaults);
    expect(prompts.map((p) => [p.prompt, p.steps, p.sampler, p.height])).toEqual([
      ["a cat", 12, "ddim", 512],
      ["a dog", 30, "heun", 768],
    ]);
  });

  it("names the prompt of a bad key or value in a .toml/.json list", async () => {
    const typo = await file("typo.json", JSON.stringify([{ prompt: "a", negativ_prompt: "b" }]));
    await expect(loadSamplePrompts(typo, defaults)).rejects.toThrow(
      `${typo} prompt 1: unknown key negativ_prompt (did you mean negative_prompt?)`,
    );
    const type = await file("type.toml", '[prompt]\n[[prompt.subset]]\nprompt = "a"\nwidth = "wide"\n');
    await expect(loadSamplePrompts(type, defaults)).rejects.toThrow(
      `${type} prompt 1: width must be a number (got "wide")`,
    );
    const shape = await file("shape.toml", 'prompt = "a"\n');
    await expect(loadSamplePrompts(shape, defaults)).rejects.toThrow(/expected a \[prompt\] table/);
    await expect(loadSamplePrompts(join(dir, "none.txt"), defaults)).rejects.toThrow(/no such file/);
  });
});
