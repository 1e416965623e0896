import { describe, expect, test } from "vitest";
import { createRng } from "./rng.ts";

describe("createRng", () => {
  test("the same seeds give the same sequence; different seeds a different one", () => {
    const take = (...seeds: number[]) => Array.from({ length: 5 }, createRng(...seeds).next);
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
    expect(take(42, 1)).not.toEqual(take(42, 2));
    expect(take(2 ** 40)).not.toEqual(take(0)); // high bits count
    expect(take(-1)).not.toEqual(take(1));
  });

  test("values lie in [0, 1) and spread evenly", () => {
    const rng = createRng(1);
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 10000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      bins[Math.floor(x * 10)]! += 1;
    }
    for (const count of bins) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  test("below and shuffle", () => {
    const rng = createRng(3);
    for (let i = 0; i < 100; i++) expect(rng.below(7)).toBeLessThan(7);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = rng.shuffle([...items]);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
  });
});
