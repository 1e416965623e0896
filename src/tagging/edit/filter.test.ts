import { describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import { compileTagRegex, filterEntries, matchesFilter, type TagFilter } from "./filter.ts";

const tags = ["trig", "1girl", "smile", "red shirt"];

describe("matchesFilter", () => {
  it.each<[string, TagFilter, boolean]>([
    ["empty filter", {}, true],
    ["all-of hit", { allOf: ["1girl", "smile"] }, true],
    ["all-of miss", { allOf: ["1girl", "hat"] }, false],
    ["any-of hit", { anyOf: ["hat", "smile"] }, true],
    ["any-of miss", { anyOf: ["hat", "coat"] }, false],
    ["none-of hit", { noneOf: ["hat"] }, true],
    ["none-of miss", { noneOf: ["hat", "smile"] }, false],
    ["regex substring", { regex: [/shirt/u] }, true],
    ["regex anchored miss", { regex: [/^shirt$/u] }, false],
    ["every regex must match", { regex: [/shirt/u, /hat/u] }, false],
    ["global regex twice", { regex: [/i/gu, /i/gu] }, true],
    ["combined", { allOf: ["smile"], noneOf: ["hat"], anyOf: ["1girl"] }, true],
    ["exact, not substring", { allOf: ["shirt"] }, false],
  ])("%s", (_name, filter, expected) => {
    expect(matchesFilter(tags, filter)).toBe(expected);
  });
});

it("filterEntries keeps the matching entries in order", () => {
  const entries = [
    { file: "a.png", tags: ["x", "y"] },
    { file: "b.png", tags: ["y"] },
    { file: "c.png", tags: ["x"] },
  ];
  expect(filterEntries(entries, { allOf: ["x"] }).map((e) => e.file)).toEqual(["a.png", "c.png"]);
});

it("compileTagRegex names the flag of a bad pattern", () => {
  expect(() => compileTagRegex("(", "--regex")).toThrow(DanluError);
  expect(() => compileTagRegex("(", "--regex")).toThrow(/--regex/u);
});
