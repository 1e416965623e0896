import { describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import {
  balanceRepeats,
  checkConceptName,
  parseConcepts,
  parseReg,
  parseRepeats,
  subsetFolderName,
} from "./plan.ts";

describe("balanceRepeats", () => {
  const counts = (entries: [string, number][]) => new Map(entries);
  it.each<[string, [string, number][], [string, number][], [string, number][]]>([
    ["one small concept: the guides' ~200 per epoch", [["a", 20]], [], [["a", 10]]],
    ["16 images", [["a", 16]], [], [["a", 13]]],
    [
      "a concept over 200 images gets 1 and sets the target",
      [
        ["big", 400],
        ["small", 40],
      ],
      [],
      [
        ["big", 1],
        ["small", 10],
      ],
    ],
    [
      "the smaller concept gets more repeats",
      [
        ["a", 20],
        ["b", 50],
      ],
      [],
      [
        ["a", 10],
        ["b", 4],
      ],
    ],
    [
      "a given repeat count sets the target",
      [
        ["a", 20],
        ["b", 50],
      ],
      [["a", 5]],
      [
        ["a", 5],
        ["b", 2],
      ],
    ],
    [
      "never below 1",
      [
        ["a", 10],
        ["b", 1000],
      ],
      [["a", 1]],
      [
        ["a", 1],
        ["b", 1],
      ],
    ],
    [
      "all given",
      [
        ["a", 3],
        ["b", 4],
      ],
      [
        ["a", 7],
        ["b", 2],
      ],
      [
        ["a", 7],
        ["b", 2],
      ],
    ],
  ])("%s", (_name, images, given, expected) => {
    expect([...balanceRepeats(counts(images), new Map(given))]).toEqual(expected);
  });
});

describe("parsing", () => {
  it("splits NAME=DIR at the first =", () => {
    expect(parseConcepts(["ohwx woman=photos/a=b", "x=/abs"])).toEqual([
      { name: "ohwx woman", dir: "photos/a=b" },
      { name: "x", dir: "/abs" },
    ]);
  });

  it.each(["nodir", "=dir", "name=", "../up=dir", "a/b=dir", ".hidden=dir", " padded=dir", "a:b=dir"])(
    "rejects --concept %j",
    (value) => {
      expect(() => parseConcepts([value])).toThrow(DanluError);
    },
  );

  it("rejects a concept given twice", () => {
    expect(() => parseConcepts(["a=x", "a=y"])).toThrow(/given twice/u);
  });

  it("reads repeats for known concepts only", () => {
    const concepts = parseConcepts(["a=x", "b=y"]);
    expect([...parseRepeats(["b=3"], concepts)]).toEqual([["b", 3]]);
    expect(() => parseRepeats(["c=3"], concepts)).toThrow(/no --concept named "c"/u);
    expect(() => parseRepeats(["a=0"], concepts)).toThrow(/at least 1/u);
    expect(() => parseRepeats(["a=1.5"], concepts)).toThrow(/whole number/u);
  });

  it("takes the reg class from --reg-class or CLASS=DIR", () => {
    expect(parseReg("dir", "woman")).toEqual({ name: "woman", dir: "dir" });
    expect(parseReg("woman=dir", undefined)).toEqual({ name: "woman", dir: "dir" });
    expect(() => parseReg("dir", undefined)).toThrow(/need a class/u);
  });

  it("names folders as kohya reads them", () => {
    expect(subsetFolderName(10, "ohwx woman")).toBe("10_ohwx woman");
    expect(checkConceptName("a_b", "--concept")).toBe("a_b");
  });
});
