import { describe, expect, it } from "vitest";
import { bakeTrigger, proposeTraitTags, sharedFirstTag } from "./bake.ts";
import { formatFrequencyTable, tagFrequency } from "./frequency.ts";

const entries = [
  { file: "1.png", tags: ["blue eyes", "long hair", "smile", "blue eyes"] },
  { file: "2.png", tags: ["blue eyes", "long hair", "hat"] },
  { file: "3.png", tags: ["blue eyes", "ohwx", "short hair"] },
  { file: "4.png", tags: ["blue eyes", "long hair", "ohwx"] },
];

describe("tagFrequency", () => {
  it("counts images, not repeats, most common first then A-Z", () => {
    expect(tagFrequency(entries).map((c) => [c.tag, c.images, c.share])).toEqual([
      ["blue eyes", 4, 1],
      ["long hair", 3, 0.75],
      ["ohwx", 2, 0.5],
      ["hat", 1, 0.25],
      ["short hair", 1, 0.25],
      ["smile", 1, 0.25],
    ]);
  });

  it("formats a table with shares", () => {
    const table = formatFrequencyTable(tagFrequency(entries), entries.length).split("\n");
    expect(table[0]).toContain("4 images, 6 tags");
    expect(table[1]).toBe("    4   100%  blue eyes");
    expect(table[2]).toBe("    3    75%  long hair");
  });
});

describe("proposeTraitTags", () => {
  it.each([
    [1, ["blue eyes"]],
    [0.75, ["blue eyes", "long hair"]],
    [0.5, ["blue eyes", "long hair"]], // the trigger ohwx is never proposed
    [0.2, ["blue eyes", "long hair", "hat", "short hair", "smile"]],
  ])("at %f", (share, expected) => {
    expect(proposeTraitTags(entries, share, "ohwx").map((c) => c.tag)).toEqual(expected);
  });
});

describe("bakeTrigger", () => {
  it.each([
    [
      ["blue eyes", "smile"],
      ["ohwx", "smile"],
    ],
    [
      ["smile", "ohwx", "long hair"],
      ["ohwx", "smile"],
    ],
    [[], ["ohwx"]],
  ])("%j", (tags, expected) => {
    expect(bakeTrigger(tags, "ohwx", new Set(["blue eyes", "long hair"]))).toEqual(expected);
  });
});

describe("sharedFirstTag", () => {
  it.each([
    [[["ohwx", "a"], ["ohwx"], []], "ohwx"],
    [
      [
        ["ohwx", "a"],
        ["a", "ohwx"],
      ],
      null,
    ],
    [[[], []], null],
    [[["ohwx", "a"], []], null],
  ])("%j", (captions, expected) => {
    expect(sharedFirstTag(captions.map((tags, i) => ({ file: `${i}.png`, tags })))).toBe(expected);
  });
});
