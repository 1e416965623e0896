import { describe, expect, it } from "vitest";
import { checkKeyValue } from "./check-value.ts";
import { editDistance, suggestKey } from "./did-you-mean.ts";
import { parseOptimizerArgs } from "./optimizer-args.ts";
import { TRAIN_KEY_NAMES, TRAIN_KEYS, trainConfig } from "./schema.ts";

const required = { pretrained_model_name_or_path: "/m.safetensors", train_data_dir: "/d", output_dir: "/o" };

describe("trainConfig schema", () => {
  it("fills every key from its default given the required ones", () => {
    const config = trainConfig.parse(required);
    expect(Object.keys(config).sort()).toEqual([...TRAIN_KEY_NAMES].sort());
    expect(config.resolution).toEqual([512, 512]);
    expect(config.caption_extension).toBe(".txt");
    expect(config.max_token_length).toBe(75);
    expect(config.optimizer_args).toEqual([]);
  });

  it("gives every key a one-line description and a type label", () => {
    for (const [key, def] of Object.entries(TRAIN_KEYS)) {
      expect(def.description, key).toMatch(/^[^\n]{10,}$/);
      expect(def.typeLabel, key).not.toBe("");
    }
  });

  it("rejects unknown keys", () => {
    expect(trainConfig.safeParse({ ...required, network_dimm: 4 }).success).toBe(false);
  });

  it("reads resolution as int, 'W,H', one side or [w,h]", () => {
    expect(checkKeyValue("resolution", 768)).toEqual({ ok: true, value: [768, 768] });
    expect(checkKeyValue("resolution", "512,768")).toEqual({ ok: true, value: [512, 768] });
    expect(checkKeyValue("resolution", " 640 ")).toEqual({ ok: true, value: [640, 640] });
    expect(checkKeyValue("resolution", [1024, 768])).toEqual({ ok: true, value: [1024, 768] });
    expect(checkKeyValue("resolution", "512x768").ok).toBe(false);
    expect(checkKeyValue("resolution", 32).ok).toBe(false);
  });

  it("reads lr_warmup_steps as steps, a ratio below 1, or a percentage", () => {
    expect(checkKeyValue("lr_warmup_steps", 100)).toEqual({ ok: true, value: 100 });
    expect(checkKeyValue("lr_warmup_steps", 0.1)).toEqual({ ok: true, value: 0.1 });
    expect(checkKeyValue("lr_warmup_steps", "5%")).toEqual({ ok: true, value: 0.05 });
    expect(checkKeyValue("lr_warmup_steps", 1.5).ok).toBe(false);
    expect(checkKeyValue("lr_warmup_steps", -1).ok).toBe(false);
  });

  it("range-checks alpha, dropout rates, token length and choices", () => {
    expect(checkKeyValue("network_alpha", 0).ok).toBe(false);
    expect(checkKeyValue("network_alpha", 0.5).ok).toBe(true);
    expect(checkKeyValue("caption_dropout_rate", 1.2).ok).toBe(false);
    expect(checkKeyValue("caption_tag_dropout_rate", 1).ok).toBe(true);
    expect(checkKeyValue("max_token_length", 150).ok).toBe(true);
    expect(checkKeyValue("max_token_length", 100).ok).toBe(false);
    expect(checkKeyValue("network_dim", 2.5).ok).toBe(false);
    expect(checkKeyValue("optimizer_type", "SGDNesterov").ok).toBe(false);
  });

  it("names the key and the expected type in a problem", () => {
    const check = checkKeyValue("network_dim", "abc");
    expect(check).toEqual({ ok: false, problem: 'network_dim must be int >= 1 (got "abc")' });
  });

  it("maps sampler aliases to the plain name", () => {
    expect(checkKeyValue("sample_sampler", "k_euler_a")).toEqual({ ok: true, value: "euler_a" });
    expect(checkKeyValue("sample_sampler", "dpm++").ok).toBe(false);
  });
});

describe("optimizer_args", () => {
  it("parses weight_decay, betas and eps", () => {
    expect(parseOptimizerArgs(["weight_decay=0.1", "betas=0.9,0.99", "eps=1e-6"])).toEqual({
      weight_decay: 0.1,
      betas: [0.9, 0.99],
      eps: 1e-6,
    });
    expect(parseOptimizerArgs(["betas=(0.8, 0.95)"]).betas).toEqual([0.8, 0.95]);
  });

  it("rejects what AdamW does not take, with the reason", () => {
    expect(() => parseOptimizerArgs(["decouple=True"])).toThrow(/not an AdamW argument/);
    const check = checkKeyValue("optimizer_args", ["weight_decay=x"]);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toMatch(/weight_decay must be a number/);
  });
});

describe("did you mean", () => {
  it("counts a swap of neighbours as one edit", () => {
    expect(editDistance("lerning_rate", "learning_rate")).toBe(1);
    expect(editDistance("netwrok_dim", "network_dim")).toBe(1);
    expect(editDistance("abc", "abc")).toBe(0);
  });

  it("suggests close keys only", () => {
    expect(suggestKey("learing_rate", TRAIN_KEY_NAMES)).toBe("learning_rate");
    expect(suggestKey("train-data-dir", TRAIN_KEY_NAMES)).toBe("train_data_dir");
    expect(suggestKey("Network_Dim", TRAIN_KEY_NAMES)).toBe("network_dim");
    expect(suggestKey("banana", TRAIN_KEY_NAMES)).toBeUndefined();
  });
});
