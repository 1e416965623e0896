/**
 * Benchmark (prints figures; passes or fails nothing): images per second for `danlu data import` and
 * `danlu data check` on a generated folder.
 *
 *   npx tsx bench/dataset/import-check.ts [--count 1000] [--width 640] [--height 480] [--keep]
 *
 * The images are random shapes rendered from SVG (smooth areas and hard edges like photos, every
 * one different so the duplicate search does real work), 3 in 4 saved as JPEG quality 90, 1 in 4 as PNG.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { checkDataset } from "../../src/dataset/check/index.ts";
import { mapPool } from "../../src/dataset/images.ts";
import { importImages } from "../../src/dataset/import/index.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    width: { type: "string", default: "640" },
    height: { type: "string", default: "480" },
    keep: { type: "boolean", default: false },
  },
});
const count = Number(values.count);
const width = Number(values.width);
const height = Number(values.height);

function randomSvg(seed: number): string {
  let state = seed * 2654435761;
  const random = (): number => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const colour = (): string =>
    `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
  const shapes = Array.from({ length: 12 }, () => {
    const x = random() * width;
    const y = random() * height;
    return random() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${10 + random() * width * 0.25}" fill="${colour()}"/>`
      : `<rect x="${x}" y="${y}" width="${20 + random() * width * 0.4}" height="${20 + random() * height * 0.4}" fill="${colour()}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${shapes.join("")}</svg>`;
}

async function generate(dir: string): Promise<void> {
  const indices = Array.from({ length: count }, (_, i) => i);
  await mapPool(indices, availableParallelism(), async (i) => {
    const image = sharp(Buffer.from(randomSvg(i + 1)));
    if (i % 4 === 3) await image.png().toFile(join(dir, `img-${i}.png`));
    else await image.jpeg({ quality: 90 }).toFile(join(dir, `img-${i}.jpg`));
  });
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, (performance.now() - started) / 1000];
}

const work = await mkdtemp(join(tmpdir(), "danlu-bench-dataset-"));
const src = join(work, "src");
const out = join(work, "dataset");
try {
  await mkdir(src);
  const [, generateSeconds] = await timed(() => generate(src));
  const [imported, importSeconds] = await timed(() => importImages([src], { outDir: out }));
  const [, checkFastSeconds] = await timed(() => checkDataset(out, { detectPeople: false }));
  const [checked, checkSeconds] = await timed(() => checkDataset(out));
  const rate = (n: number, seconds: number): string => `${(n / seconds).toFixed(1)} images/s`;
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `danlu dataset benchmark: ${count} images ${width}x${height}, ${availableParallelism()} cores (${cpu})`,
  );
  console.log(`generate             ${generateSeconds.toFixed(1)} s`);
  console.log(
    `import               ${importSeconds.toFixed(1)} s  ${rate(imported.counts.imported, importSeconds)}`,
  );
  console.log(`check --no-people    ${checkFastSeconds.toFixed(1)} s  ${rate(count, checkFastSeconds)}`);
  console.log(`check (with people)  ${checkSeconds.toFixed(1)} s  ${rate(count, checkSeconds)}`);
  console.log(
    `(imported ${imported.counts.imported}, near-duplicate pairs found: ${checked.duplicates.length})`,
  );
} finally {
  if (values.keep) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
