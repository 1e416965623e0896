import { describe, expect, it } from "vitest";
import type { TagLabel } from "./labels.ts";
import { categoryMap, DEFAULT_FORMAT, formatTags, mergeSelections, selectTags, topRating } from "./select.ts";

const labelList: TagLabel[] = [
  { name: "general", category: "rating" },
  { name: "sensitive", category: "rating" },
  { name: "long_hair", category: "general" },
  { name: "smile", category: "general" },
  { name: "^_^", category: "general" },
  { name: "hatsune_miku_(vocaloid)", category: "character" },
  { name: "vocaloid", category: "general" },
  { name: "some_artist", category: "other" },
];
const labels = categoryMap(labelList);

// Listed in an order other than the labels', to show the result is ordered by probability.
const probs = {
  general: 0.2,
  sensitive: 0.7,
  long_hair: 0.9,
  smile: 0.3,
  "^_^": 0.5,
  "hatsune_miku_(vocaloid)": 0.86,
  vocaloid: 0.4,
  some_artist: 0.99,
};

describe("selectTags", () => {
  it("applies the general and character thresholds, never selects ratings or other categories", () => {
    const selected = selectTags(labels, probs, { general: 0.35, character: 0.85 });
    expect(selected.map((t) => t.name)).toEqual(["long_hair", "hatsune_miku_(vocaloid)", "^_^", "vocaloid"]);
  });

  it("counts a probability equal to the threshold as selected", () => {
    expect(selectTags(labels, probs, { general: 0.3, character: 0.87 }).map((t) => t.name)).toContain(
      "smile",
    );
    expect(selectTags(labels, probs, { general: 0.3, character: 0.87 }).map((t) => t.name)).not.toContain(
      "hatsune_miku_(vocaloid)",
    );
  });

  it("picks the rating by argmax", () => {
    expect(topRating(labels, probs)?.name).toBe("sensitive");
  });
});

describe("mergeSelections", () => {
  it("takes the union and the highest probability of a tag chosen twice", () => {
    const a = [{ name: "x", category: "general" as const, probability: 0.4 }];
    const b = [
      { name: "x", category: "general" as const, probability: 0.6 },
      { name: "y", category: "general" as const, probability: 0.5 },
    ];
    expect(mergeSelections([a, b])).toEqual([b[0], b[1]]);
  });
});

describe("formatTags", () => {
  const selected = selectTags(labels, probs, { general: 0.35, character: 0.85 });
  const rating = topRating(labels, probs);

  it("removes underscores except in kaomoji, most probable first", () => {
    expect(formatTags(selected, rating, DEFAULT_FORMAT)).toEqual([
      "long hair",
      "hatsune miku (vocaloid)",
      "^_^",
      "vocaloid",
    ]);
  });

  it("keeps underscores when asked", () => {
    const tags = formatTags(selected, rating, { ...DEFAULT_FORMAT, removeUnderscores: false });
    expect(tags[0]).toBe("long_hair");
  });

  it("puts characters first, expands name_(series) and drops the duplicate series tag", () => {
    const format = { ...DEFAULT_FORMAT, characterFirst: true, expandCharacters: true };
    expect(formatTags(selected, rating, format)).toEqual(["hatsune miku", "vocaloid", "long hair", "^_^"]);
  });

  it("places the rating first or last", () => {
    expect(formatTags(selected, rating, { ...DEFAULT_FORMAT, rating: "first" })[0]).toBe("sensitive");
    expect(formatTags(selected, rating, { ...DEFAULT_FORMAT, rating: "last" }).at(-1)).toBe("sensitive");
  });

  it("drops undesired tags by raw or formatted name and applies replacements", () => {
    const format = {
      ...DEFAULT_FORMAT,
      undesired: new Set(["^_^", "long hair"]),
      replacements: new Map([["vocaloid", "virtual singer"]]),
    };
    expect(formatTags(selected, rating, format)).toEqual(["hatsune miku (vocaloid)", "virtual singer"]);
  });

  it("moves always-first tags to the front in the order given", () => {
    const format = { ...DEFAULT_FORMAT, alwaysFirst: ["vocaloid", "absent", "^_^"] };
    expect(formatTags(selected, rating, format)).toEqual([
      "vocaloid",
      "^_^",
      "long hair",
      "hatsune miku (vocaloid)",
    ]);
  });
});
