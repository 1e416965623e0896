/**
 * A small seeded random source for the training plan (shuffles, caption dropout, random crops), so the
 * same seed always gives the same plan. sfc32, seeded through a splitmix32-style mix of the given numbers.
 * Not cryptographic; never Math.random.
 */

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  below(maxExclusive: number): number;
  /** Shuffles `items` in place (Fisher-Yates from the end, as Python's random.shuffle). */
  shuffle<T>(items: T[]): T[];
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A generator from one or more integer seeds, e.g. createRng(seed, epoch). */
export function createRng(...seeds: number[]): Rng {
  let h = 0x9e3779b9;
  for (const seed of seeds) {
    // Seeds can be larger than 32 bits (or negative): fold in the low and high halves.
    const low = (seed % 0x100000000) >>> 0;
    const high = Math.floor(seed / 0x100000000) >>> 0;
    h = mix32(h ^ low) + 0x9e3779b9;
    h = mix32(h ^ high) + 0x9e3779b9;
  }
  let a = mix32(h + 1);
  let b = mix32(h + 2);
  let c = mix32(h + 3);
  let d = 1;
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32(); // let the seed spread through the state

  const next = (): number => next32() / 0x100000000;
  return {
    next,
    below: (maxExclusive) => Math.floor(next() * maxExclusive),
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j] as T, items[i] as T];
      }
      return items;
    },
  };
}
