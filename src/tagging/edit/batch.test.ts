import { describe, expect, it } from "vitest";
import { applyToMatching, setImageTags } from "./batch.ts";
import { applyTagEdit } from "./operations.ts";

const entries = [
  { file: "a.png", tags: ["t", "x", "y"] },
  { file: "b.png", tags: ["t", "y"] },
  { file: "c.png", tags: ["t", "z"] },
];

describe("applyToMatching", () => {
  it("edits only the matching images and returns only the changed ones", () => {
    const remove = (tags: readonly string[]) =>
      applyTagEdit(tags, { kind: "remove", tags: ["x"] }, { keepFirst: 1 });
    expect(applyToMatching(entries, { anyOf: ["y"] }, remove)).toEqual({
      matched: 2,
      changed: [{ file: "a.png", tags: ["t", "y"] }],
    });
  });

  it("does not modify its input", () => {
    applyToMatching(entries, {}, (tags) => [...tags].reverse());
    expect(entries[0]?.tags).toEqual(["t", "x", "y"]);
  });
});

describe("setImageTags", () => {
  it.each([
    ["b.png", ["t", "new"], [{ file: "b.png", tags: ["t", "new"] }]],
    ["b.png", ["t", "y"], []],
  ])("%s -> %j", (file, tags, changed) => {
    expect(setImageTags(entries, file, tags).changed).toEqual(changed);
  });

  it("refuses a file that is not in the dataset", () => {
    expect(() => setImageTags(entries, "nope.png", [])).toThrow(/not an image of this dataset/u);
  });
});
