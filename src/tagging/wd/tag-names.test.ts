import { describe, expect, it } from "vitest";
import { expandCharacterTag, parseTagReplacements, splitTagList, underscoresToSpaces } from "./tag-names.ts";
import { defaultThresholds } from "./thresholds.ts";

describe("underscoresToSpaces", () => {
  it("replaces underscores except in kaomoji tags", () => {
    expect(underscoresToSpaces("long_hair")).toBe("long hair");
    expect(underscoresToSpaces("^_^")).toBe("^_^");
    expect(underscoresToSpaces("0_0")).toBe("0_0");
    expect(underscoresToSpaces("||_||")).toBe("||_||");
    // short tags are not all kaomoji (sd-scripts' length <= 3 rule would keep this one)
    expect(underscoresToSpaces("a_b")).toBe("a b");
  });
});

describe("expandCharacterTag", () => {
  it("splits the series out of the last parenthesis", () => {
    expect(expandCharacterTag("hatsune_miku_(vocaloid)")).toEqual(["hatsune_miku", "vocaloid"]);
    expect(expandCharacterTag("saber_(fate)_(fate/stay_night)")).toEqual(["saber_(fate)", "fate/stay_night"]);
    expect(expandCharacterTag("hakurei_reimu")).toEqual(["hakurei_reimu"]);
    expect(expandCharacterTag("(o)_(o)")).toEqual(["(o)", "o"]);
  });
});

describe("parseTagReplacements", () => {
  it("reads sd-scripts' source,target;source,target syntax with escapes", () => {
    const map = parseTagReplacements("1girl,1woman; a\\,b , c\\;d ;");
    expect([...map]).toEqual([
      ["1girl", "1woman"],
      ["a,b", "c;d"],
    ]);
  });

  it("rejects a pair without a target", () => {
    expect(() => parseTagReplacements("1girl")).toThrow(/not "source,target"/);
  });
});

describe("splitTagList", () => {
  it("splits on the separator's non-space part and trims", () => {
    expect(splitTagList(" 1girl,solo , ", ", ")).toEqual(["1girl", "solo"]);
    expect(splitTagList("a | b", " | ")).toEqual(["a", "b"]);
  });
});

describe("defaultThresholds", () => {
  it("uses the precision=recall value of each model family", () => {
    expect(defaultThresholds("wd-vit-tagger-v3").general).toBe(0.2614);
    expect(defaultThresholds("wd-convnext-tagger-v3").general).toBe(0.2682);
    expect(defaultThresholds("wd-swinv2-tagger-v3").general).toBe(0.2653);
    expect(defaultThresholds("wd-v1-4-moat-tagger-v2").general).toBe(0.3771);
    expect(defaultThresholds("wd-v1-4-convnextv2-tagger-v2").general).toBe(0.371);
    expect(defaultThresholds("wd-v1-4-convnext-tagger-v2").general).toBe(0.3685);
    expect(defaultThresholds("SmilingWolf_wd-v1-4-vit-tagger-v2").general).toBe(0.3537);
    expect(defaultThresholds("wd-vit-tagger-v3").character).toBe(0.85);
  });

  it("falls back to 0.35 / 0.85 for an unknown model", () => {
    expect(defaultThresholds("my-tagger")).toEqual({ general: 0.35, character: 0.85, known: false });
  });
});
