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

  it("puts the well-known fields first under readable labels, then the rest", () => {
    const text = formatModelInfo({
      extra_note: "x",
      format: "safetensors",
      size_bytes: 2_132_625_894,
      arch: "sd15",
      prediction_type: "epsilon",
      dtype: "float16",
      parameters: { unet: 859_520_964, text_encoder: 123_060_480 },
    });
    expect(text.split("\n")).toEqual([
      "architecture: SD1.x (sd15)",
      "prediction:   epsilon",
      "dtype:        float16",
      "size:         2.13 GB",
      "format:       safetensors",
      "parameters:   unet 860M, text_encoder 123M",
      "extra note:   x",
    ]);
  });
});
