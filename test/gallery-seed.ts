// A dataset of many distinct small images for the gallery's browser test and benchmark
// (test/web-gallery.test.ts, bench/web/gallery.ts): generated with sharp, uploaded as one zip.
import sharp from "sharp";
import yazl from "yazl";
import type { Api } from "./serve.ts";

export const SIDE = 96;

/** The name of image `i`: img-0000.png, img-0001.png... (the gallery lists them in this order). */
export const galleryName = (i: number) => `img-${String(i).padStart(4, "0")}.png`;

/**
 * Image `i` (0 to 4095) as a PNG: a colour of its own, a soft gradient, and `i` in binary as a row of
 * black and white squares, so no two are alike to the import's duplicate check (same bytes) or to the eye.
 */
export async function galleryPng(i: number): Promise<Buffer> {
  const pixels = Buffer.alloc(SIDE * SIDE * 3);
  const colour = [(i * 37) % 256, (i * 91 + 60) % 256, (i * 163 + 120) % 256];
  const BITS = 12;
  const square = SIDE / BITS;
  for (let y = 0; y < SIDE; y += 1) {
    for (let x = 0; x < SIDE; x += 1) {
      const at = (y * SIDE + x) * 3;
      const inCode = y >= SIDE - square;
      const bit = (i >> Math.floor(x / square)) & 1;
      for (let c = 0; c < 3; c += 1) {
        pixels[at + c] = inCode ? bit * 255 : Math.round(colour[c]! * (0.6 + (0.4 * y) / SIDE));
      }
    }
  }
  return sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .png()
    .toBuffer();
}

/** `count` images in one zip (stored: PNGs do not compress). */
export async function galleryZip(count: number): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (let i = 0; i < count; i += 1) zip.addBuffer(await galleryPng(i), galleryName(i), { compress: false });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface UploadAnswer {
  counts: Record<string, number>;
}

/** Creates dataset `name` and uploads `count` images into it as one zip; returns how many it imported. */
export async function seedGallery(api: Api, name: string, count: number): Promise<number> {
  await api.post("/api/datasets", { name });
  const form = new FormData();
  form.append("files", new Blob([await galleryZip(count)]), "gallery.zip");
  const answer = await api.json<UploadAnswer>(`/api/datasets/${encodeURIComponent(name)}/upload`, {
    method: "POST",
    body: form,
  });
  return answer.counts.imported ?? 0;
}
