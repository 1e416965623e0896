import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatModelInfo } from "./model.ts";

describe("model info formatting", () => {
  it("formats sizes and parameter counts as people read them", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(4_200_000)).toBe("4.20 MB");
    expect(formatBytes(2_132_625_894)).toBe("2.13 GB");
    expect(formatBytes(6_938_040_682)).toBe("6.94 GB");
    expect(formatCount(859_520_964)).toBe("860M");
    expect(formatCount(2_567_463_684)).toBe("2.57B");
    expect(formatCount(12_345)).toBe("12.3K");
  });

  it("puts the well-known fields first under readable labels, then the rest, then the notes", () => {
    const text = formatModelInfo({
      path: "/m/tiny.safetensors",
      format: "single_file",
      arch: "sd15",
      prediction_type: "epsilon",
      dtype: "float16",
      dtypes: { float16: 1100, float32: 30 },
      size_bytes: 2_132_625_894,
      parameters: { text_encoder: 123_060_480, vae: 83_653_863, unet: 859_520_964 },
      global_step: 470000,
      notes: ["holds EMA weights", "prediction type assumed"],
    });
    expect(text.split("\n")).toEqual([
      "file:         /m/tiny.safetensors",
      "format:       single-file .safetensors",
      "architecture: SD1.x (sd15)",
      "prediction:   epsilon (noise)",
      "dtype:        float16 (1100 tensors), float32 (30)",
      "size:         2.13 GB",
      "parameters:   1.07B (text_encoder 123M, vae 83.7M, unet 860M)",
      "global step:  470000",
      "notes:",
      "  - holds EMA weights",
      "  - prediction type assumed",
    ]);
  });

  it("shows one dtype plainly and passes unknown values through", () => {
    const text = formatModelInfo({
      arch: "sd9",
      format: "diffusers",
      dtype: "float32",
      dtypes: { float32: 10 },
    });
    expect(text.split("\n")).toEqual([
      "format:       diffusers folder",
      "architecture: sd9",
      "dtype:        float32",
    ]);
  });
});
