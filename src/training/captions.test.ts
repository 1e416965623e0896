import { describe, expect, test } from "vitest";
import { DEFAULT_CAPTION_OPTIONS, processCaption, type CaptionOptions } from "./captions.ts";
import { createRng } from "./rng.ts";

const caption = "sks woman, smiling, red dress, outdoors, sunlight, looking at viewer";

function run(options: Partial<CaptionOptions>, seed = 1, epoch = 1, text = caption): string {
  return processCaption(text, { ...DEFAULT_CAPTION_OPTIONS, ...options }, { epoch, rng: createRng(seed) });
}

function tags(text: string): string[] {
  return text.split(", ");
}

describe("processCaption", () => {
  test("with default options the caption is unchanged", () => {
    expect(run({})).toBe(caption);
    expect(run({}, 1, 1, "a,b ,  c")).toBe("a,b ,  c"); // no re-joining unless tags are shuffled/dropped
  });

  test("prefix and suffix are joined with a space before anything else", () => {
    expect(run({ captionPrefix: "photo of", captionSuffix: "4k" })).toBe(`photo of ${caption} 4k`);
    // the prefix is part of the first tag, so keep_tokens 1 keeps "pre sks woman" in front
    const shuffled = run({ captionPrefix: "pre", shuffleCaption: true, keepTokens: 1 });
    expect(tags(shuffled)[0]).toBe("pre sks woman");
  });

  test("shuffle keeps keep_tokens in front, shuffles the rest, and is deterministic for a seed", () => {
    const options = { shuffleCaption: true, keepTokens: 1 };
    const first = run(options, 7);
    expect(run(options, 7)).toBe(first);
    expect(tags(first)[0]).toBe("sks woman");
    expect([...tags(first)].sort()).toEqual([...tags(caption)].sort());
    const orders = new Set(Array.from({ length: 20 }, (_, seed) => run(options, seed)));
    expect(orders.size).toBeGreaterThan(10);
  });

  test("keep_tokens_separator splits fixed | shuffled | fixed suffix", () => {
    const text = "sks, woman ||| red, blue, green, yellow ||| masterpiece, best quality";
    for (let seed = 0; seed < 10; seed++) {
      const out = tags(run({ shuffleCaption: true, keepTokensSeparator: "|||" }, seed, 1, text));
      expect(out.slice(0, 2)).toEqual(["sks", "woman"]);
      expect(out.slice(-2)).toEqual(["masterpiece", "best quality"]);
      expect(out.slice(2, 6).sort()).toEqual(["blue", "green", "red", "yellow"]);
    }
  });

  test("a custom caption separator splits tags; the output is joined with ', ' as in sd-scripts", () => {
    const out = run({ shuffleCaption: true, captionSeparator: ";", keepTokens: 1 }, 3, 1, "a b; c; d ;e");
    expect(tags(out)[0]).toBe("a b");
    expect(tags(out).sort()).toEqual(["a b", "c", "d", "e"]);
  });

  test("secondary separator joins sub-tags after shuffling", () => {
    const outs = new Set(
      Array.from({ length: 10 }, (_, seed) =>
        run({ shuffleCaption: true, secondarySeparator: ";;;" }, seed, 1, "x;;;y, z"),
      ),
    );
    // "x;;;y" moves as one tag, then becomes "x,y" (the caption separator, no space)
    expect(outs).toEqual(new Set(["x,y, z", "z, x,y"]));
  });

  test("caption_dropout_rate empties the whole caption at about that rate", () => {
    const outs = Array.from({ length: 1000 }, (_, seed) => run({ captionDropoutRate: 0.3 }, seed));
    const dropped = outs.filter((o) => o === "").length;
    expect(dropped).toBeGreaterThan(240);
    expect(dropped).toBeLessThan(360);
    expect(outs.filter((o) => o !== "").every((o) => o === caption)).toBe(true);
    expect(run({ captionDropoutRate: 1 })).toBe("");
  });

  test("caption_dropout_every_n_epochs empties every N-th epoch", () => {
    const options = { captionDropoutEveryNEpochs: 2 };
    expect([1, 2, 3, 4].map((epoch) => run(options, 1, epoch))).toEqual([caption, "", caption, ""]);
  });

  test("tag dropout never drops kept tokens and drops the others at about the rate", () => {
    let kept = 0;
    for (let seed = 0; seed < 400; seed++) {
      const out = tags(run({ captionTagDropoutRate: 0.5, keepTokens: 1 }, seed));
      expect(out[0]).toBe("sks woman");
      kept += out.length - 1;
    }
    const rate = kept / (400 * 5);
    expect(rate).toBeGreaterThan(0.42);
    expect(rate).toBeLessThan(0.58);
    // without shuffling the surviving tags keep their order
    const out = tags(run({ captionTagDropoutRate: 0.5 }, 11));
    const order = tags(caption);
    expect(out.map((t) => order.indexOf(t))).toEqual(
      [...out.map((t) => order.indexOf(t))].sort((a, b) => a - b),
    );
  });

  test("only the first line of a multi-line caption is used", () => {
    expect(run({}, 1, 1, "first line\nsecond line")).toBe("first line");
  });

  test("different epochs' rngs give different shuffles", () => {
    const options = { ...DEFAULT_CAPTION_OPTIONS, shuffleCaption: true };
    const a = processCaption(caption, options, { epoch: 1, rng: createRng(5, 1) });
    const b = processCaption(caption, options, { epoch: 2, rng: createRng(5, 2) });
    const c = processCaption(caption, options, { epoch: 1, rng: createRng(5, 1) });
    expect(a).toBe(c);
    expect(a).not.toBe(b);
  });
});
