import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { REPO_ROOT } from "../../engine/python.ts";

/**
 * A customer's upload for tests and the bench, made from the public-domain portraits in fixtures/photos
 * (see its SOURCES.md): six different framings of one person (astronaut.png, Eileen Collins, NASA), plus
 * the three photos the pipeline must drop: somebody else (camera.png), a group photo (two people side by
 * side with faces of the same size; the second is a mirrored, recoloured copy, because the detector misses
 * the cameraman's three-quarter face at that scale) and a blurred copy of a good one.
 */
export const SELFIE_FILES = {
  good: ["me-1.png", "me-2.png", "me-3.png", "me-4.png", "me-5.png", "me-6.png"],
  intruder: "someone-else.png",
  group: "group.png",
  blurry: "blurry.png",
} as const;

const photo = (name: string) => join(REPO_ROOT, "fixtures", "photos", name);

export async function writeSelfies(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const me = photo("astronaut.png"); // 512 x 512, the face in the upper middle
  const frames: ((image: Sharp) => Sharp)[] = [
    (i) => i,
    (i) => i.flop(),
    (i) => i.extract({ left: 60, top: 0, width: 400, height: 460 }).resize(512, 589),
    (i) => i.rotate(8, { background: "#808080" }).resize(560, 560),
    (i) =>
      i
        .extract({ left: 100, top: 20, width: 330, height: 330 })
        .resize(512, 512)
        .modulate({ brightness: 1.1 }),
    (i) =>
      i
        .flop()
        .extract({ left: 20, top: 0, width: 470, height: 400 })
        .resize(600, 510)
        .modulate({ saturation: 0.6 }),
  ];
  const written: string[] = [];
  for (const [i, frame] of frames.entries()) {
    const out = join(dir, SELFIE_FILES.good[i]!);
    await frame(sharp(me)).png().toFile(out);
    written.push(out);
  }
  const intruder = join(dir, SELFIE_FILES.intruder);
  await sharp(photo("camera.png")).png().toFile(intruder);
  const blurry = join(dir, SELFIE_FILES.blurry);
  await sharp(me).extract({ left: 30, top: 10, width: 450, height: 480 }).blur(8).png().toFile(blurry);
  // both people at the same scale, side by side: no face dominates
  const left = await sharp(me).resize(400, 400).png().toBuffer();
  const right = await sharp(me).flop().resize(400, 400).modulate({ hue: 40 }).png().toBuffer();
  const group = join(dir, SELFIE_FILES.group);
  await sharp({ create: { width: 800, height: 400, channels: 3, background: "#808080" } })
    .composite([
      { input: left, left: 0, top: 0 },
      { input: right, left: 400, top: 0 },
    ])
    .png()
    .toFile(group);
  written.push(intruder, group, blurry);
  return written;
}
