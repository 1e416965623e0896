import { describe, expect, it } from "vitest";
import { triggerWords } from "./triggers.ts";

describe("trigger words", () => {
  it("trigger_phrase first, then tags in every caption of a folder (by count)", () => {
    const metadata = {
      "modelspec.trigger_phrase": "ohwx woman, red scarf",
      ss_tag_frequency: JSON.stringify({
        "10_ohwx woman": { "ohwx woman": 12, smile: 5, zkz: 12 },
        "2_style": { stl: 4, "red scarf": 4 },
      }),
      ss_dataset_dirs: JSON.stringify({
        "10_ohwx woman": { n_repeats: 10, img_count: 12 },
        "2_style": { img_count: 4 },
      }),
    };
    expect(triggerWords(metadata).map((t) => [t.word, t.source])).toEqual([
      ["ohwx woman", "trigger_phrase"],
      ["red scarf", "trigger_phrase"],
      ["zkz", "every caption"],
      ["stl", "every caption"],
    ]);
  });

  it("falls back to the most frequent tags when no tag is in every caption", () => {
    const metadata = { ss_tag_frequency: JSON.stringify({ a: { x: 3, y: 9, z: 1, w: 2 } }) };
    expect(triggerWords(metadata, 2)).toEqual([
      { word: "y", source: "most frequent", count: 9 },
      { word: "x", source: "most frequent", count: 3 },
    ]);
    expect(triggerWords({ ss_tag_frequency: "not json" })).toEqual([]);
  });
});
