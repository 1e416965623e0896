import { expect, it } from "vitest";
import { parseParameters } from "./parameters.ts";

it("reads sd-webui-controlnet's units back, in order, with A1111's own text too", () => {
  const unit = (n: number, module: string, model: string, weight: string, end: string) =>
    `ControlNet ${n}: "Module: ${module}, Model: ${model}, Weight: ${weight}, Resize Mode: Crop and Resize, ` +
    `Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0, Guidance End: ${end}, ` +
    `Pixel Perfect: False, Control Mode: Balanced"`;
  const text =
    "a dancer\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, " +
    `Model: sd15, ${unit(1, "depth_anything_v2", "control_v11f1p_sd15_depth", "0.6", "0.8")}, ` +
    `${unit(0, "dw_openpose_full", "control_v11p_sd15_openpose [cab727d4]", "1.0", "1.0")}, Clip skip: 1`;
  const parsed = parseParameters(text);
  expect(parsed.controlnets).toEqual([
    {
      module: "dw_openpose_full",
      model: "control_v11p_sd15_openpose",
      hash: "cab727d4",
      weight: 1,
      start: 0,
      end: 1,
      processorRes: 512,
      thresholdA: 100,
      thresholdB: 200,
    },
    {
      module: "depth_anything_v2",
      model: "control_v11f1p_sd15_depth",
      weight: 0.6,
      start: 0,
      end: 0.8,
      processorRes: 512,
      thresholdA: 100,
      thresholdB: 200,
    },
  ]);
  expect(parsed).toMatchObject({ seed: 5, clipSkip: 1, width: 512 });
  expect(parseParameters("x\nSteps: 2").controlnets).toBeUndefined();
});
