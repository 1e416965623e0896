import sharp from "sharp";
import type { RawImage } from "../images.ts";

/**
 * Perceptual hash (DCT pHash, 64 bits): the grey image shrunk to 32x32, its 2-D DCT-II, the 8x8
 * lowest frequencies; each bit says whether that coefficient is above their median (the DC term,
 * which only carries overall brightness, is left out of the median). Resizing, recompression and
 * small colour changes move few bits; a different photo differs in about half of them.
 */
const SIZE = 32;
const LOW = 8;

/**
 * Hamming distance (of 64 bits) at or below which two images are near-duplicates. On the sample
 * photos: a copy resized to 200 px and saved as JPEG quality 40 is 0-10 away, a 20% brighter copy
 * 0-4; two different photos are 24-40 apart.
 */
export const DEFAULT_DUPLICATE_DISTANCE = 12;

// cos((2x + 1) u pi / 2N) for u < LOW, x < SIZE: the only DCT rows the hash needs.
const COSINES = Array.from({ length: LOW }, (_, u) =>
  Float64Array.from({ length: SIZE }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * SIZE))),
);

export async function perceptualHash(grey: RawImage): Promise<bigint> {
  const small = await sharp(grey.data, { raw: { width: grey.width, height: grey.height, channels: 1 } })
    .resize(SIZE, SIZE, { fit: "fill", kernel: "cubic" })
    .raw()
    .toBuffer();
  return hashFromPixels(small);
}

/** The hash of 32x32 grey pixels (row-major). */
export function hashFromPixels(pixels: Uint8Array): bigint {
  // Rows first: rowDct[y][u] = sum_x p[y][x] cos_u(x); then columns for the LOW x LOW block.
  const rowDct = Array.from({ length: SIZE }, (_, y) =>
    COSINES.map((cos) => {
      let sum = 0;
      for (let x = 0; x < SIZE; x++) sum += (pixels[y * SIZE + x] ?? 0) * (cos[x] ?? 0);
      return sum;
    }),
  );
  const coefficients: number[] = [];
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      let sum = 0;
      for (let y = 0; y < SIZE; y++) sum += (rowDct[y]?.[u] ?? 0) * (COSINES[v]?.[y] ?? 0);
      coefficients.push(sum);
    }
  }
  const median = medianOf(coefficients.slice(1));
  let hash = 0n;
  for (const value of coefficients) hash = (hash << 1n) | (value > median ? 1n : 0n);
  return hash;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function hammingDistance(a: bigint, b: bigint): number {
  let diff = a ^ b;
  let count = 0;
  while (diff) {
    diff &= diff - 1n;
    count += 1;
  }
  return count;
}

export function hashToHex(hash: bigint): string {
  return hash.toString(16).padStart(16, "0");
}

export function hashFromHex(hex: string): bigint {
  return BigInt("0x" + hex);
}
