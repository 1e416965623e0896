import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GenerateSpec } from "../engine/spec.ts";
import {
  assignPreprocessors,
  parseControlNetFlag,
  prepareControlMaps,
  resolveControlNetModel,
} from "./controlnet.ts";

describe("--controlnet MODEL:IMAGE[:weight[:start:end]]", () => {
  it("reads the model, the image and the numbers from the end", () => {
    expect(parseControlNetFlag("cn.safetensors:pose.png")).toEqual({
      model: "cn.safetensors",
      image: "pose.png",
    });
    expect(parseControlNetFlag("cn:pose.png:0.6")).toEqual({ model: "cn", image: "pose.png", weight: 0.6 });
    expect(parseControlNetFlag("cn:pose.png:1:0:0.8")).toEqual({
      model: "cn",
      image: "pose.png",
      weight: 1,
      start: 0,
      end: 0.8,
    });
  });

  it("refuses a missing image, start without end and extra parts", () => {
    for (const bad of ["cn", "cn:pose.png:1:0", "a:b:c:1", ":pose.png"]) {
      expect(() => parseControlNetFlag(bad), bad).toThrow(/expected MODEL:IMAGE/);
    }
  });

  it("--control-preprocessor: once for all units or once per unit, in order", () => {
    const units = [parseControlNetFlag("a:x.png"), parseControlNetFlag("b:y.png")];
    expect(assignPreprocessors(units, ["canny"]).map((u) => u.preprocessor)).toEqual(["canny", "canny"]);
    expect(assignPreprocessors(units, ["none", "depth"]).map((u) => u.preprocessor)).toEqual([
      "none",
      "depth",
    ]);
    expect(() => assignPreprocessors([...units, units[0]!], ["none", "depth"])).toThrow(
      /2 --control-preprocessor/,
    );
  });

  it("refuses ControlNet with inpainting before any work", async () => {
    const unit = { model: "/m", name: "m", image: "/i", module: "none", weight: 1, start: 0, end: 1 };
    const job = {
      inpaint: { mask: "/k" },
      controlnets: [{ ...unit, processor_res: 64, threshold_a: 0, threshold_b: 0 }],
    };
    const spec = { output: { dir: "/nowhere" }, jobs: [job] } as unknown as GenerateSpec;
    await expect(prepareControlMaps(spec)).rejects.toThrow(/not supported yet/);
  });
});

describe("the ControlNet model: a path, or a name in the model folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "danlu-cn-models-"));
  mkdirSync(join(dir, "control_v11p_sd15_openpose"));
  writeFileSync(join(dir, "control_v11p_sd15_openpose", "control_v11p_sd15_openpose_fp16.safetensors"), "");

  it("a pulled single file is used by the folder's name", () => {
    expect(resolveControlNetModel("control_v11p_sd15_openpose", dir)).toEqual({
      path: join(dir, "control_v11p_sd15_openpose", "control_v11p_sd15_openpose_fp16.safetensors"),
      name: "control_v11p_sd15_openpose",
    });
  });

  it("a catalogued one not installed names the pull command; anything else is not found", () => {
    expect(() => resolveControlNetModel("control_v11p_sd15_canny", dir)).toThrow(
      expect.objectContaining({
        code: "MODEL_MISSING",
        hint: expect.stringContaining("danlu models pull control_v11p_sd15_canny"),
      }),
    );
    expect(() => resolveControlNetModel("nothing-here", dir)).toThrow(
      expect.objectContaining({ code: "FILE_NOT_FOUND" }),
    );
  });
});
