import type { RawImage } from "../dataset/images.ts";

/**
 * The face chip dlib's ResNet descriptor expects: 150x150 px, the face turned upright and scaled so
 * five landmarks land on dlib's template (get_face_chip_details in dlib/image_transforms/interpolation.h,
 * with the padding 0.25 dlib's face recognition example uses and the network was trained with).
 */
export const CHIP_SIZE = 150;
const CHIP_PADDING = 0.25;

/** dlib's 5-point template on the unit square: image-right eye outer and inner corner, image-left eye outer and inner corner, base of the nose. */
const TEMPLATE: readonly (readonly [number, number])[] = [
  [0.8595674595992, 0.2134981538014],
  [0.6460604764104, 0.2289674387677],
  [0.1205750620789, 0.2137274526848],
  [0.3340850613712, 0.2290642403242],
  [0.4901123135679, 0.6277975316475],
];

/** The same five points in MediaPipe FaceMesh's 468-point numbering (eye corners 263/362 and 33/133, subnasale 2). */
export const MESH_ALIGNMENT_POINTS = [263, 362, 33, 133, 2] as const;

export type Point = readonly [number, number];

/** x' = a*x - b*y + tx, y' = b*x + a*y + ty: rotation, uniform scale and shift. */
interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** Least-squares similarity transform taking `from` onto `to` (Umeyama without reflection). */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  const mean = (points: readonly Point[], axis: 0 | 1) => points.reduce((s, p) => s + p[axis], 0) / n;
  const [fx, fy, tx, ty] = [mean(from, 0), mean(from, 1), mean(to, 0), mean(to, 1)];
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const [x, y] = from[i] ?? [0, 0];
    const [u, v] = to[i] ?? [0, 0];
    const [px, py, qx, qy] = [x - fx, y - fy, u - tx, v - ty];
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  const a = norm === 0 ? 1 : dot / norm;
  const b = norm === 0 ? 0 : cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/**
 * The aligned chip (CHIP_SIZE x CHIP_SIZE RGB, 0-255 floats) for five landmarks given in the image's
 * pixels in TEMPLATE order; bilinear sampling, black outside the image (as dlib does).
 */
export function faceChip(image: RawImage, landmarks: readonly Point[]): Float32Array {
  const chipPoints = TEMPLATE.map(
    ([x, y]) =>
      [
        ((CHIP_PADDING + x) / (1 + 2 * CHIP_PADDING)) * CHIP_SIZE,
        ((CHIP_PADDING + y) / (1 + 2 * CHIP_PADDING)) * CHIP_SIZE,
      ] as const,
  );
  const toImage = fitSimilarity(chipPoints, landmarks);
  const chip = new Float32Array(CHIP_SIZE * CHIP_SIZE * 3);
  const { data, width, height, channels } = image;
  for (let v = 0; v < CHIP_SIZE; v++) {
    for (let u = 0; u < CHIP_SIZE; u++) {
      // sample at the pixel centre
      const cu = u + 0.5;
      const cv = v + 0.5;
      const x = toImage.a * cu - toImage.b * cv + toImage.tx - 0.5;
      const y = toImage.b * cu + toImage.a * cv + toImage.ty - 0.5;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const wx = x - x0;
      const wy = y - y0;
      for (let c = 0; c < 3; c++) {
        const at = (px: number, py: number) =>
          px < 0 || py < 0 || px >= width || py >= height ? 0 : (data[(py * width + px) * channels + c] ?? 0);
        const top = at(x0, y0) * (1 - wx) + at(x0 + 1, y0) * wx;
        const bottom = at(x0, y0 + 1) * (1 - wx) + at(x0 + 1, y0 + 1) * wx;
        chip[(v * CHIP_SIZE + u) * 3 + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return chip;
}
