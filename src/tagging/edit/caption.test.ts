import { describe, expect, it } from "vitest";
import { formatCaption, parseCaption, parseTagList, splitKept } from "./caption.ts";

describe("parseCaption", () => {
  it.each([
    ["a, b,c", ["a", "b", "c"]],
    ["  a  ,, ,b  ", ["a", "b"]],
    ["first line, x\nsecond\r\n", ["first line", "x", "second"]],
    ["", []],
    ["(masterpiece:1.2), ^_^", ["(masterpiece:1.2)", "^_^"]],
  ])("%j", (text, tags) => {
    expect(parseCaption(text)).toEqual(tags);
  });

  it("round-trips through formatCaption", () => {
    expect(formatCaption(parseCaption("a,b , c"))).toBe("a, b, c");
  });
});

describe("splitKept", () => {
  it.each([
    [0, [], ["a", "b"]],
    [1, ["a"], ["b"]],
    [5, ["a", "b"], []],
    [-1, [], ["a", "b"]],
  ])("keep %i", (keep, kept, rest) => {
    expect(splitKept(["a", "b"], keep)).toEqual({ kept, rest });
  });
});

it("parseTagList accepts repeated and comma-separated values", () => {
  expect(parseTagList(["a, b", "c"])).toEqual(["a", "b", "c"]);
});
