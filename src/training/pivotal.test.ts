import { describe, expect, it } from "vitest";
import { trainConfig } from "../config/index.ts";
import type { TrainSpec } from "../engine/spec.ts";
import { applyPivotal, pivotalTokens, replaceTrigger } from "./pivotal.ts";

const TOKENS = ["<s0>", "<s1>"];

function config(extra: Record<string, unknown>) {
  return trainConfig.parse({
    pretrained_model_name_or_path: "/m.safetensors",
    train_data_dir: "/d",
    output_dir: "/o",
    ...extra,
  });
}

function spec(captions: string[]): TrainSpec {
  const prompt = {
    prompt: "TOK on a beach",
    negative_prompt: "TOK",
    width: 64,
    height: 64,
    seed: 1,
    steps: 2,
  };
  return {
    epochs: [[{ images: [0], captions }]],
    training: { total_steps: 7 },
    validation: { images: [{ image: 1, caption: "TOK, red" }], every_n_steps: 0, timesteps: [1] },
    sample: {
      prompts: [{ ...prompt, scale: 5, sampler: "euler" }],
      every_n_epochs: 1,
      every_n_steps: 0,
      at_start: false,
    },
    pivotal: null,
  } as unknown as TrainSpec;
}

describe("pivotal tuning in the plan", () => {
  it("names the new tokens as diffusers does", () => {
    expect(pivotalTokens(3)).toEqual(["<s0>", "<s1>", "<s2>"]);
  });

  it("replaces the trigger only as a whole word", () => {
    expect(replaceTrigger("TOK, TOKyo, a TOK. (TOK) xTOK TOK_2", "TOK", TOKENS)).toBe(
      "<s0><s1>, TOKyo, a <s0><s1>. (<s0><s1>) xTOK TOK_2",
    );
    expect(replaceTrigger("a c++ b", "c++", TOKENS)).toBe("a <s0><s1> b");
  });

  it("leaves the spec alone when off", () => {
    const s = spec(["TOK, smiling"]);
    expect(applyPivotal(config({}), s)).toBe(s);
  });

  it("swaps captions, validation captions and sample prompts, and fills the engine section", () => {
    const out = applyPivotal(
      config({ pivotal_tuning: true, trigger_word: "TOK", pivotal_lr: 1e-3 }),
      spec(["TOK, smiling"]),
    );
    expect(out.epochs[0]?.[0]?.captions).toEqual(["<s0><s1>, smiling"]);
    expect(out.validation.images[0]?.caption).toBe("<s0><s1>, red");
    expect(out.sample.prompts[0]?.prompt).toBe("<s0><s1> on a beach");
    expect(out.sample.prompts[0]?.negative_prompt).toBe("TOK");
    expect(out.pivotal).toEqual({ tokens: TOKENS, init_word: "", lr: 1e-3, train_steps: 3 }); // floor(0.5 x 7)
  });

  it("prefers pivotal_token and honours the count and fraction", () => {
    const c = config({
      pivotal_tuning: true,
      trigger_word: "x",
      pivotal_token: "sks",
      pivotal_num_tokens: 3,
      pivotal_fraction: 1,
    });
    const out = applyPivotal(c, spec(["a sks dog"]));
    expect(out.epochs[0]?.[0]?.captions).toEqual(["a <s0><s1><s2> dog"]);
    expect(out.pivotal?.train_steps).toBe(7);
  });

  it("says what is wrong without a trigger or when no caption has it", () => {
    expect(() => applyPivotal(config({ pivotal_tuning: true }), spec(["TOK"]))).toThrow(
      /pivotal_token nor trigger_word/,
    );
    expect(() =>
      applyPivotal(config({ pivotal_tuning: true, pivotal_token: "TOK" }), spec(["a dog"])),
    ).toThrow(/appears as a word in no training caption/);
  });
});
