import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ClipTokenizer,
  END_OF_TEXT,
  START_OF_TEXT,
  findClipBpeFile,
  loadClipTokenizer,
} from "./clip-tokens.ts";
import { DanluError } from "../errors.ts";

const tokenizer = loadClipTokenizer();

// Strings that exercise the clean-up and the split: punctuation runs, contractions, underscores,
// accents, curly quotes, CJK, emoji, fullwidth forms, ligatures, HTML entities, digits, weights syntax.
const samples = [
  "a photo of a cat",
  "1girl, solo, long_hair, blue eyes!!",
  "Café déjà vu — “quoted” ‘it’s’ naïve",
  "日本語のテキスト 東京 🐱🎉",
  "don't  STOP\tme\n(masterpiece:1.2), [tag], <lora:x:0.8>",
  "ﬁne ＡＢＣ１２３ &amp; &lt;x&gt; 3.14159 ١٢٣",
  "^_^, :3, >_<, o_o, ...",
];

describe("ClipTokenizer", () => {
  it("tokenizes the reference sentence (REFERENCE.md section 7)", () => {
    expect([START_OF_TEXT, ...tokenizer.encode("a photo of a cat"), END_OF_TEXT]).toEqual([
      49406, 320, 1125, 539, 320, 2368, 49407,
    ]);
  });

  it("gives the same ids as open_clip's Python SimpleTokenizer", () => {
    const python = ".venv/bin/python";
    expect(existsSync(python), "the project venv is part of the setup (npm run setup)").toBe(true);
    const script = [
      "import json, sys",
      "from open_clip.tokenizer import SimpleTokenizer",
      "t = SimpleTokenizer()",
      "print(json.dumps([t.encode(s) for s in json.loads(sys.argv[1])]))",
    ].join("\n");
    const output = execFileSync(python, ["-c", script, JSON.stringify(samples)], { encoding: "utf8" });
    expect(samples.map((text) => tokenizer.encode(text))).toEqual(JSON.parse(output));
  });

  it("counts a caption of 75 tokens", () => {
    expect(tokenizer.countTokens("")).toBe(0);
    expect(tokenizer.countTokens("a, a")).toBe(3);
    expect(tokenizer.countTokens(Array(25).fill("red hat").join(", "))).toBe(74);
  });

  it("rejects a file that is not the vocabulary", () => {
    expect(() => new ClipTokenizer("header\na b\n")).toThrow(DanluError);
    expect(() => ClipTokenizer.fromFile("package.json")).toThrow(/cannot read the CLIP vocabulary/u);
  });

  it("honours DANLU_CLIP_BPE and says when it is wrong", () => {
    const real = findClipBpeFile({});
    expect(findClipBpeFile({ DANLU_CLIP_BPE: real })).toBe(real);
    expect(() => findClipBpeFile({ DANLU_CLIP_BPE: "/nonexistent/bpe.txt.gz" })).toThrow(/DANLU_CLIP_BPE/u);
  });
});
