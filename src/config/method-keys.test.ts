import { describe, expect, it } from "vitest";
import { lossSpec, optimizerSpec, schedulerType } from "../training/method-spec.ts";
import { optimizerArgsFor } from "./optimizer-args.ts";
import { resolveTrainConfig } from "./resolve.ts";
import type { TrainConfigLayer } from "./schema.ts";

const REQUIRED = { pretrained_model_name_or_path: "/m", train_data_dir: "/d", output_dir: "/o" };
const resolve = (layer: TrainConfigLayer) => resolveTrainConfig([{ ...REQUIRED, ...layer }]);

describe("optimizer_args per optimizer", () => {
  it("parses each optimizer's own arguments into typed values", () => {
    expect(
      optimizerArgsFor("Prodigy", [
        "d_coef=2",
        "safeguard_warmup=True",
        "use_bias_correction=true",
        "decouple=False",
        "betas=(0.9, 0.99)",
      ]),
    ).toEqual({
      d_coef: 2,
      safeguard_warmup: true,
      use_bias_correction: true,
      decouple: false,
      betas: [0.9, 0.99],
    });
    expect(optimizerArgsFor("Adafactor", ["relative_step=False", "eps=1e-30,1e-3"])).toEqual({
      relative_step: false,
      eps: [1e-30, 1e-3],
    });
    expect(optimizerArgsFor("AdamWScheduleFree", ["warmup_steps=10"])).toEqual({ warmup_steps: 10 });
  });

  it("names an argument the optimizer does not take, with the ones it does", () => {
    expect(() => optimizerArgsFor("Lion", ["eps=1e-8"])).toThrow(
      '"eps" is not a Lion argument danlu supports (weight_decay, betas)',
    );
    expect(() => resolve({ optimizer_type: "AdamW", optimizer_args: ["d_coef=2"] })).toThrow(
      /optimizer_args: "d_coef" is not an AdamW argument danlu supports \(weight_decay, betas, eps\)/,
    );
    expect(() => resolve({ optimizer_args: ["nonsense=1"] })).toThrow(/not an argument of any optimizer/);
    expect(() => optimizerArgsFor("Prodigy", ["decouple=yes"])).toThrow(/decouple must be True or False/);
  });
});

describe("learning rate and schedule rules", () => {
  it("gives Prodigy and DAdaptAdam lr 1.0 unless set", () => {
    expect(resolve({ optimizer_type: "Prodigy" }).learning_rate).toBe(1.0);
    expect(resolve({ optimizer_type: "DAdaptAdam", learning_rate: 0.5 }).learning_rate).toBe(0.5);
    expect(resolve({ optimizer_type: "Lion" }).learning_rate).toBe(1e-4);
  });

  it("uses the adafactor schedule with Adafactor's relative step, its lr from adafactor:<lr>", () => {
    const relative = resolve({ optimizer_type: "Adafactor", lr_scheduler: "adafactor:0.002" });
    expect(schedulerType(relative)).toBe("adafactor");
    expect(optimizerSpec(relative)).toMatchObject({ type: "Adafactor", unet_lr: 0.002, args: {} });
    expect(schedulerType(resolve({ optimizer_type: "Adafactor" }))).toBe("adafactor"); // as sd-scripts forces
    const fixed = resolve({
      optimizer_type: "Adafactor",
      optimizer_args: ["relative_step=False"],
      lr_scheduler: "constant_with_warmup",
    });
    expect(schedulerType(fixed)).toBe("constant_with_warmup");
    expect(() => resolve({ lr_scheduler: "adafactor" })).toThrow(/needs optimizer_type Adafactor/);
    expect(() => resolve({ lr_scheduler: "adafactor:x" })).toThrow(/lr_scheduler/);
  });

  it("refuses a schedule with schedule-free AdamW and an empty timestep range", () => {
    expect(() => resolve({ optimizer_type: "AdamWScheduleFree", lr_scheduler: "cosine" })).toThrow(
      /AdamWScheduleFree replaces the schedule/,
    );
    expect(() => resolve({ min_timestep: 500, max_timestep: 500 })).toThrow(/min_timestep 500 is not below/);
  });
});

describe("loss options", () => {
  it("default to plain L2 over every timestep", () => {
    expect(lossSpec(resolve({}))).toEqual({
      noise_offset_random_strength: false,
      adaptive_noise_scale: null,
      multires_noise_iterations: 0,
      multires_noise_discount: 0.3,
      zero_terminal_snr: false,
      min_snr_gamma: null,
      debiased_estimation_loss: false,
      loss_type: "l2",
      huber_schedule: "snr",
      huber_c: 0.1,
      huber_scale: 1,
      min_timestep: 0,
      max_timestep: 1000,
      masked_loss: false,
    });
  });

  it("passes the kohya-named options through", () => {
    const config = resolve({ min_snr_gamma: 5, loss_type: "huber", multires_noise_iterations: 6 });
    expect(lossSpec(config)).toMatchObject({
      min_snr_gamma: 5,
      loss_type: "huber",
      multires_noise_iterations: 6,
    });
    expect(() => resolve({ adaptive_noise_scale: 0.1 })).toThrow(/adaptive_noise_scale needs noise_offset/);
  });
});
