import { describe, expect, it } from "vitest";
import { parseAttention, parsePrompt } from "./prompt.ts";
import type { DanluError } from "../errors.ts";

// Expected weights from A1111's own doctests (modules/prompt_parser.py) and cases worked out by its rules.
const TABLE: [string, [string, number][]][] = [
  ["normal text", [["normal text", 1]]],
  [
    "an (important) word",
    [
      ["an ", 1],
      ["important", 1.1],
      [" word", 1],
    ],
  ],
  ["(unbalanced", [["unbalanced", 1.1]]],
  ["\\(literal\\]", [["(literal]", 1]]],
  ["(unnecessary)(parens)", [["unnecessaryparens", 1.1]]],
  [
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
    [
      ["a ", 1],
      ["house", 1.573],
      [" ", 1.1],
      ["on", 1],
      [" a ", 1.1],
      ["hill", 0.55],
      [", sun, ", 1.1],
      ["sky", 1.4641],
      [".", 1.1],
    ],
  ],
  ["((word))", [["word", 1.21]]],
  ["[word]", [["word", 1 / 1.1]]],
  ["[[word]]", [["word", 1 / 1.21]]],
  ["(word:1.3)", [["word", 1.3]]],
  ["(word: 0.7 )", [["word", 0.7]]],
  [
    "(a:1.2) b",
    [
      ["a", 1.2],
      [" b", 1],
    ],
  ],
  ["a\\:b", [["a:b", 1]]],
  ["time 12:30", [["time 12:30", 1]]],
  ["\\\\ back", [["\\ back", 1]]],
  ["unbalanced)", [["unbalanced)", 1]]],
  [
    "a BREAK (b)",
    [
      ["a", 1],
      ["BREAK", -1],
      ["", 1], // A1111 keeps the empty text after "BREAK " too
      ["b", 1.1],
    ],
  ],
  ["", [["", 1]]],
];

describe("parseAttention (A1111 parse_prompt_attention)", () => {
  it.each(TABLE)("%j", (prompt, expected) => {
    const got = parseAttention(prompt);
    expect(got.map(([text]) => text)).toEqual(expected.map(([text]) => text));
    got.forEach(([, weight], i) => expect(weight).toBeCloseTo(expected[i]![1], 10));
  });
});

describe("parsePrompt", () => {
  it("splits BREAK sections and drops empty text", () => {
    const parsed = parsePrompt("a cat, (red:1.2) BREAK [blue] sky");
    expect(parsed.sections).toEqual([
      [
        { text: "a cat, ", weight: 1 },
        { text: "red", weight: 1.2 },
      ],
      [
        { text: "blue", weight: 1 / 1.1 },
        { text: " sky", weight: 1 },
      ],
    ]);
  });

  it("takes LoRA tags out with their weights", () => {
    const parsed = parsePrompt(
      "<lora:style:0.8> a photo <lyco:loha_x:0.5:1.2>, <lora:plain> <lora:n:te=0.3:unet=0.9>",
    );
    expect(parsed.loras).toEqual([
      { name: "style", teWeight: 0.8, unetWeight: 0.8 },
      { name: "loha_x", teWeight: 0.5, unetWeight: 1.2 },
      { name: "plain", teWeight: 1, unetWeight: 1 },
      { name: "n", teWeight: 0.3, unetWeight: 0.9 },
    ]);
    expect(parsed.sections).toEqual([[{ text: " a photo ,  ", weight: 1 }]]);
    expect(parsed.text).toContain("<lora:style:0.8>");
  });

  it("an empty prompt is one empty section", () => {
    expect(parsePrompt("").sections).toEqual([[]]);
  });

  it("refuses A1111 prompt editing and alternation instead of misreading them", () => {
    expect(() => parsePrompt("a [cat:dog:0.5]")).toThrow(/prompt editing/);
    expect(() => parsePrompt("a [cat|dog]")).toThrow(/alternation/);
    expect(() => parsePrompt("[(cat:1.2)]")).not.toThrow();
    expect(() => parsePrompt("[(cat:1.2):dog:3]")).toThrow(/\[\(cat:1\.2\):dog:3\]/);
    expect(() => parsePrompt("\\[a:b\\] (c:1.1)")).not.toThrow();
  });

  it("rejects a non-number LoRA weight and unknown network kinds", () => {
    expect(() => parsePrompt("<lora:x:strong>")).toThrow(/not a number/);
    expect(() => parsePrompt("<hypernet:x:1>")).toThrow(/hypernet/);
  });
});

describe("parsePrompt and A1111's AND (composable diffusion)", () => {
  it("refuses AND naming it and what to do, never as literal text", () => {
    for (const text of ["a cat :1.2 AND a dog :0.8", "a cat AND a dog", "(a cat AND a dog:1.1)"]) {
      expect(() => parsePrompt(text)).toThrow(/uses AND \(A1111's composable diffusion/);
    }
    let error: DanluError | undefined;
    try {
      parsePrompt("a cat AND a dog");
    } catch (e) {
      error = e as DanluError;
    }
    expect(error?.hint).toMatch(/join the parts with a comma.*lower case: and/s);
  });

  it('keeps "and" and words that contain AND as text', () => {
    expect(parsePrompt("a cat and a dog").sections).toEqual([[{ text: "a cat and a dog", weight: 1 }]]);
    expect(parsePrompt("ANDROID, SANDY").sections[0]?.[0]?.text).toBe("ANDROID, SANDY");
  });
});
