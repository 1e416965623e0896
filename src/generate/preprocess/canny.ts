/**
 * The Canny edge detector (OpenCV's, which A1111's "canny" preprocessor calls): Gaussian blur, Sobel
 * gradients, non-maximum suppression along the gradient direction, then hysteresis: pixels above `high`
 * are edges, pixels above `low` are edges when connected to one. Thresholds are on the L1 gradient
 * magnitude |gx| + |gy| of 0..255 grey levels, as cv2.Canny's default. Output: 255 on edges, else 0.
 */

export interface GreyImage {
  data: Uint8Array | Buffer; // one byte per pixel, row by row
  width: number;
  height: number;
}

export const CANNY_DEFAULTS = { low: 100, high: 200 } as const; // A1111's defaults

/** 5x5 Gaussian, sigma about 1.1 (cv2.GaussianBlur's kernel for size 5): [1 4 6 4 1]/16 in each direction. */
const GAUSS = [1, 4, 6, 4, 1];

function blur(image: GreyImage): Float32Array {
  const { width: w, height: h, data } = image;
  const at = (x: number, y: number, src: ArrayLike<number>) =>
    src[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))] ?? 0;
  const rows = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = -2; k <= 2; k++) sum += (GAUSS[k + 2] ?? 0) * at(x + k, y, data);
      rows[y * w + x] = sum / 16;
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = -2; k <= 2; k++) sum += (GAUSS[k + 2] ?? 0) * at(x, y + k, rows);
      out[y * w + x] = sum / 16;
    }
  return out;
}

/** Sobel gradients (3x3) with replicated borders: [gx, gy]. */
function sobel(src: Float32Array, w: number, h: number): [Float32Array, Float32Array] {
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  const at = (x: number, y: number) =>
    src[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))] ?? 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [a, b, c] = [at(x - 1, y - 1), at(x, y - 1), at(x + 1, y - 1)];
      const [d, f] = [at(x - 1, y), at(x + 1, y)];
      const [g, i, j] = [at(x - 1, y + 1), at(x, y + 1), at(x + 1, y + 1)];
      gx[y * w + x] = c + 2 * f + j - (a + 2 * d + g);
      gy[y * w + x] = g + 2 * i + j - (a + 2 * b + c);
    }
  return [gx, gy];
}

/** Keeps a pixel only where its magnitude is a maximum along the gradient (quantised to 4 directions). */
function suppress(gx: Float32Array, gy: Float32Array, w: number, h: number): Float32Array {
  const mag = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) mag[i] = Math.abs(gx[i] ?? 0) + Math.abs(gy[i] ?? 0);
  const out = new Float32Array(w * h);
  const TAN22 = Math.tan(Math.PI / 8);
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const m = mag[i] ?? 0;
      if (m === 0) continue;
      const [ax, ay] = [Math.abs(gx[i] ?? 0), Math.abs(gy[i] ?? 0)];
      let step: number; // the neighbour offset along the gradient
      if (ay <= ax * TAN22)
        step = 1; // horizontal gradient: compare left and right
      else if (ax <= ay * TAN22)
        step = w; // vertical
      else step = (gx[i] ?? 0) * (gy[i] ?? 0) > 0 ? w + 1 : w - 1; // diagonals
      // ties: greater than one side, at least the other (cv2's rule), so a plateau keeps one pixel
      if (m > (mag[i - step] ?? 0) && m >= (mag[i + step] ?? 0)) out[i] = m;
    }
  return out;
}

/** Canny edges of a greyscale image: 255 on edges, 0 elsewhere (the image's size). */
export function canny(
  image: GreyImage,
  low: number = CANNY_DEFAULTS.low,
  high: number = CANNY_DEFAULTS.high,
): Uint8Array {
  const { width: w, height: h } = image;
  const [gx, gy] = sobel(blur(image), w, h);
  const mag = suppress(gx, gy, w, h);
  const out = new Uint8Array(w * h);
  const stack: number[] = [];
  for (let i = 0; i < w * h; i++)
    if ((mag[i] ?? 0) > high) {
      out[i] = 255;
      stack.push(i);
    }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const [x, y] = [i % w, Math.floor(i / w)];
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const [nx, ny] = [x + dx, y + dy];
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const j = ny * w + nx;
        if (out[j] === 0 && (mag[j] ?? 0) > low) {
          out[j] = 255;
          stack.push(j);
        }
      }
  }
  return out;
}
