import type { Keypoint } from "./pose.ts";

/**
 * The OpenPose-format map ControlNet OpenPose models were trained on, as DWPose's draw_pose makes it:
 * black canvas; 17 body limbs as filled ellipses 8 px thick in the 18 OpenPose colours, dimmed to 60%,
 * then the 18 joints as 4 px dots; hands as 2 px lines coloured round the HSV wheel with blue joints;
 * the face as white 3 px dots. Keypoints with score <= 0.3 are not drawn.
 */
const VISIBLE = 0.3;
// prettier-ignore
const LIMBS = [
  [2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13], [13, 14],
  [2, 1], [1, 15], [15, 17], [1, 16], [16, 18],
] as const; // 1-based OpenPose joint pairs (DWPose's limbSeq, the 17 it draws)
// prettier-ignore
const COLOURS = [
  [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
  [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
  [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
] as const;
// prettier-ignore
const HAND_EDGES = [
  [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11], [11, 12],
  [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20],
] as const;
// COCO-WholeBody order -> OpenPose's 18 body joints (DWPose's mmpose_idx -> openpose_idx; 17 is the neck)
const OPENPOSE_FROM_COCO = [0, 17, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3];

type Rgb = readonly [number, number, number];

export interface PoseParts {
  body: (Keypoint | undefined)[]; // 18 OpenPose joints; undefined: not visible
  hands: Keypoint[][]; // 21 points each
  face: Keypoint[]; // 68 points
}

/** One person's 133 COCO-WholeBody keypoints -> OpenPose body (with the neck), hands and face. */
export function openposeParts(points: readonly Keypoint[]): PoseParts {
  const [l, r] = [points[5], points[6]];
  const neck: Keypoint | undefined =
    l && r
      ? { x: (l.x + r.x) / 2, y: (l.y + r.y) / 2, score: l.score > VISIBLE && r.score > VISIBLE ? 1 : 0 }
      : undefined;
  const withNeck = [...points.slice(0, 17), neck];
  const body = OPENPOSE_FROM_COCO.map((i) => {
    const p = withNeck[i];
    return p && p.score > VISIBLE ? p : undefined;
  });
  return { body, hands: [points.slice(91, 112), points.slice(112, 133)], face: points.slice(23, 91) };
}

class Canvas {
  readonly data: Buffer;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = Buffer.alloc(width * height * 3);
  }
  /** Sets every pixel in the box where inside(x, y) holds. */
  fill(box: [number, number, number, number], colour: Rgb, inside: (x: number, y: number) => boolean): void {
    const [x0, y0] = [Math.max(0, Math.floor(box[0])), Math.max(0, Math.floor(box[1]))];
    const [x1, y1] = [
      Math.min(this.width - 1, Math.ceil(box[2])),
      Math.min(this.height - 1, Math.ceil(box[3])),
    ];
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) if (inside(x, y)) this.data.set(colour, (y * this.width + x) * 3);
  }
  dot(x: number, y: number, radius: number, colour: Rgb): void {
    const [cx, cy] = [Math.trunc(x), Math.trunc(y)];
    this.fill(
      [cx - radius, cy - radius, cx + radius, cy + radius],
      colour,
      (px, py) => (px - cx) ** 2 + (py - cy) ** 2 <= radius ** 2,
    );
  }
  /** A filled ellipse along a->b: half-axes |ab|/2 and `half` px across. */
  limb(a: Keypoint, b: Keypoint, half: number, colour: Rgb): void {
    const [mx, my, dx, dy] = [(a.x + b.x) / 2, (a.y + b.y) / 2, b.x - a.x, b.y - a.y];
    const length = Math.hypot(dx, dy) / 2 || 1;
    const [ux, uy] = [dx / (2 * length), dy / (2 * length)];
    const reach = length + half;
    this.fill([mx - reach, my - reach, mx + reach, my + reach], colour, (x, y) => {
      const [along, across] = [(x - mx) * ux + (y - my) * uy, -(x - mx) * uy + (y - my) * ux];
      return (along / length) ** 2 + (across / half) ** 2 <= 1;
    });
  }
  line(a: Keypoint, b: Keypoint, colour: Rgb): void {
    const [dx, dy] = [b.x - a.x, b.y - a.y];
    const length2 = dx * dx + dy * dy || 1;
    const box: [number, number, number, number] = [
      Math.min(a.x, b.x) - 1,
      Math.min(a.y, b.y) - 1,
      Math.max(a.x, b.x) + 1,
      Math.max(a.y, b.y) + 1,
    ];
    this.fill(box, colour, (x, y) => {
      const t = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / length2));
      return Math.hypot(x - (a.x + t * dx), y - (a.y + t * dy)) <= 1;
    });
  }
  dim(factor: number): void {
    for (let i = 0; i < this.data.length; i++) this.data[i] = Math.floor((this.data[i] ?? 0) * factor);
  }
}

function hsv(h: number): Rgb {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (1 - Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** The map of all people found, at width x height. */
export function drawPoses(people: readonly PoseParts[], width: number, height: number): Buffer {
  const canvas = new Canvas(width, height);
  LIMBS.forEach(([i, j], k) => {
    for (const { body } of people) {
      const [a, b] = [body[i - 1], body[j - 1]];
      if (a && b) canvas.limb(a, b, 4, COLOURS[k] ?? [255, 255, 255]);
    }
  });
  canvas.dim(0.6);
  for (const { body } of people)
    body.forEach((p, k) => p && canvas.dot(p.x, p.y, 4, COLOURS[k] ?? [255, 255, 255]));
  const shown = (p: Keypoint | undefined): p is Keypoint => !!p && p.score > VISIBLE && p.x > 0 && p.y > 0;
  for (const hand of people.flatMap((p) => p.hands)) {
    HAND_EDGES.forEach(([i, j], k) => {
      const [a, b] = [hand[i], hand[j]];
      if (shown(a) && shown(b)) canvas.line(a, b, hsv(k / HAND_EDGES.length));
    });
    for (const p of hand) if (shown(p)) canvas.dot(p.x, p.y, 4, [0, 0, 255]);
  }
  for (const p of people.flatMap((q) => q.face)) if (shown(p)) canvas.dot(p.x, p.y, 3, [255, 255, 255]);
  return canvas.data;
}
