import { describe, expect, it } from "vitest";
import { jobKind } from "./index.ts";

describe("gen params: controlnets", () => {
  const params = jobKind("gen").params;
  const base = { model: "sd15.safetensors", prompt: "a dancer" };
  const image = { dataset: "poses", file: "a.png" };

  it("are none unless given; a unit takes A1111's defaults and leaves the preprocessor to the model's name", () => {
    expect(params.parse(base)).toMatchObject({ controlnets: [] });
    const unit = { model: "control_v11p_sd15_openpose", image };
    expect(params.parse({ ...base, controlnets: [unit] })).toMatchObject({
      controlnets: [{ model: "control_v11p_sd15_openpose", image, weight: 1, start: 0, end: 1 }],
    });
  });

  it("refuse an unknown preprocessor, a negative weight and unknown keys", () => {
    const unit = { model: "c", image };
    for (const bad of [{ preprocessor: "softedge" }, { weight: -1 }, { strength: 1 }]) {
      expect(params.safeParse({ ...base, controlnets: [{ ...unit, ...bad }] }).success).toBe(false);
    }
  });
});
