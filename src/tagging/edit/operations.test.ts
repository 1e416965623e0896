import { describe, expect, it } from "vitest";
import { applyTagEdit, type EditContext, type TagEdit } from "./operations.ts";

const caption = ["trig", "blue eyes", "long hair", "smile", "shirt"];
const noKeep: EditContext = { keepFirst: 0 };
const keepTrigger: EditContext = { keepFirst: 1 };

const cases: Array<{
  name: string;
  tags?: string[];
  edit: TagEdit;
  context?: EditContext;
  expected: string[];
}> = [
  {
    name: "remove listed tags",
    edit: { kind: "remove", tags: ["smile", "absent"] },
    expected: ["trig", "blue eyes", "long hair", "shirt"],
  },
  {
    name: "remove by pattern",
    edit: { kind: "remove", tags: [], patterns: [/^(blue|long) /u] },
    expected: ["trig", "smile", "shirt"],
  },
  { name: "remove never touches the trigger", edit: { kind: "remove", tags: ["trig"] }, expected: caption },
  {
    name: "remove the first tag when nothing is kept",
    edit: { kind: "remove", tags: ["trig"] },
    context: noKeep,
    expected: caption.slice(1),
  },
  {
    name: "replace with groups",
    edit: { kind: "replace", pattern: /^(\w+) eyes$/u, replacement: "$1-eyed" },
    expected: ["trig", "blue-eyed", "long hair", "smile", "shirt"],
  },
  {
    name: "replace into two tags",
    edit: { kind: "replace", pattern: /^shirt$/u, replacement: "white shirt, collar" },
    expected: ["trig", "blue eyes", "long hair", "smile", "white shirt", "collar"],
  },
  {
    name: "replace to empty removes",
    edit: { kind: "replace", pattern: /^smile$/u, replacement: "" },
    expected: ["trig", "blue eyes", "long hair", "shirt"],
  },
  {
    name: "replace onto an existing tag does not duplicate",
    edit: { kind: "replace", pattern: /^smile$/u, replacement: "shirt" },
    expected: ["trig", "blue eyes", "long hair", "shirt"],
  },
  {
    name: "replace skips the trigger",
    edit: { kind: "replace", pattern: /trig/gu, replacement: "x" },
    expected: caption,
  },
  {
    name: "replace global substring",
    tags: ["t", "a_b_c"],
    edit: { kind: "replace", pattern: /_/gu, replacement: " " },
    expected: ["t", "a b c"],
  },
  {
    name: "add at front goes after the trigger",
    edit: { kind: "add", tags: ["new", "smile"], position: "front" },
    expected: ["trig", "new", ...caption.slice(1)],
  },
  {
    name: "add at front with nothing kept",
    edit: { kind: "add", tags: ["new"], position: "front" },
    context: noKeep,
    expected: ["new", ...caption],
  },
  {
    name: "add at back",
    edit: { kind: "add", tags: ["new", "new"], position: "back" },
    expected: [...caption, "new"],
  },
  {
    name: "merge when all present",
    edit: { kind: "merge", tags: ["long hair", "blue eyes"], into: "long hair and blue eyes" },
    expected: ["trig", "long hair and blue eyes", "smile", "shirt"],
  },
  {
    name: "merge needs every tag",
    edit: { kind: "merge", tags: ["long hair", "hat"], into: "x" },
    expected: caption,
  },
  {
    name: "merge into a phrase already there",
    tags: ["t", "a", "ab", "b"],
    edit: { kind: "merge", tags: ["a", "b"], into: "ab" },
    expected: ["t", "ab"],
  },
  {
    name: "dedupe keeps first occurrences",
    tags: ["trig", "a", "b", "a", "trig", "b"],
    edit: { kind: "dedupe" },
    expected: ["trig", "a", "b"],
  },
  {
    name: "sort alpha keeps trigger first",
    tags: ["zz", "c", "a", "b"],
    edit: { kind: "sort", by: "alpha" },
    expected: ["zz", "a", "b", "c"],
  },
  {
    name: "sort alpha reversed",
    tags: ["zz", "c", "a", "b"],
    edit: { kind: "sort", by: "alpha", reverse: true },
    expected: ["zz", "c", "b", "a"],
  },
  {
    name: "sort by length, stable",
    tags: ["t", "ccc", "bb", "aa", "d"],
    edit: { kind: "sort", by: "length" },
    expected: ["t", "d", "bb", "aa", "ccc"],
  },
  {
    name: "sort by frequency",
    tags: ["t", "rare", "common", "mid"],
    edit: { kind: "sort", by: "frequency" },
    context: {
      keepFirst: 1,
      frequency: new Map([
        ["common", 9],
        ["mid", 5],
        ["rare", 1],
      ]),
    },
    expected: ["t", "common", "mid", "rare"],
  },
  {
    name: "move to front in given order",
    edit: { kind: "front", tags: ["shirt", "absent", "smile"] },
    expected: ["trig", "shirt", "smile", "blue eyes", "long hair"],
  },
];

describe("applyTagEdit", () => {
  it.each(cases)("$name", ({ tags, edit, context, expected }) => {
    expect(applyTagEdit(tags ?? caption, edit, context ?? keepTrigger)).toEqual(expected);
  });
});

describe("truncate", () => {
  // One token per word and per comma: a stand-in counter that makes the arithmetic visible.
  const countTokens = (text: string) => text.split(/(,)|\s+/u).filter(Boolean).length;
  const truncate = (tags: string[], maxTokens: number, keepFirst = 1) =>
    applyTagEdit(tags, { kind: "truncate", maxTokens }, { keepFirst, countTokens });

  it.each([
    { tags: ["t", "a b", "c"], max: 6, expected: ["t", "a b", "c"] },
    { tags: ["t", "a b", "c"], max: 5, expected: ["t", "a b"] },
    { tags: ["t", "a b", "c"], max: 3, expected: ["t"] },
    { tags: ["t", "a b", "c"], max: 0, expected: ["t"] },
    { tags: ["t", "a b", "c"], max: 0, keep: 0, expected: [] },
  ])("$tags to $max tokens", ({ tags, max, keep, expected }) => {
    expect(truncate(tags, max, keep)).toEqual(expected);
  });

  it("stops at the first tag that does not fit, keeping order", () => {
    expect(truncate(["t", "a b c d", "e"], 3)).toEqual(["t"]);
  });
});
