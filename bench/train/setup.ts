/**
 * What a training benchmark trains on: a base model (tiny, or the real SD1.5 architecture with random
 * weights) and a small generated kohya train_data_dir. Both are reused when already there, so repeated
 * runs measure training, not setup.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { runEngine } from "../../src/engine/driver.ts";
import { findEnginePython, REPO_ROOT } from "../../src/engine/python.ts";

export type BenchArch = "sd15" | "sdxl";

/** Images in the generated dataset: few, so latent caching stays a small part of time to first step. */
export const DATASET_IMAGES = 8;
export const CLASS_TOKEN = "bench";

/** The base model file for an architecture (single-file LDM layout: sd-scripts loads it too). */
export async function ensureModel(work: string, arch: BenchArch, realArch: boolean): Promise<string> {
  const dir = join(work, "models");
  await mkdir(dir, { recursive: true });
  const path = join(dir, realArch ? `${arch}-real-seed0.safetensors` : `${arch}-tiny-seed0.safetensors`);
  if (existsSync(path)) return path;
  if (!realArch) {
    await runEngine("make-tiny", {
      version: 1,
      arch,
      out: path,
      single_file: true,
      inpainting: false,
      seed: 0,
    });
    return path;
  }
  if (arch !== "sd15") throw new Error("--real-arch builds the SD1.5 architecture only (use --arch sd15)");
  const made = spawnSync(findEnginePython(), [join(REPO_ROOT, "bench", "train", "real_arch.py"), path], {
    env: { ...process.env, PYTHONPATH: join(REPO_ROOT, "engine") },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (made.status !== 0) throw new Error(`bench/train/real_arch.py failed (exit ${made.status})`);
  return path;
}

/** A deterministic pseudo-random generator (so the same dataset is written every time). */
function lcg(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"];

/** One image: overlapping circles and rectangles on a gradient (edges and smooth areas, like photos). */
async function writeImage(path: string, size: number, index: number): Promise<string> {
  const random = lcg(index + 1);
  const colour = (): string => `hsl(${Math.floor(random() * 360)},70%,${30 + Math.floor(random() * 40)}%)`;
  const shapes = Array.from({ length: 6 }, () => {
    const [x, y, r] = [random() * size, random() * size, size * (0.1 + random() * 0.3)];
    return random() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${colour()}"/>`
      : `<rect x="${x - r}" y="${y - r}" width="${r * 2}" height="${r * 1.4}" fill="${colour()}"/>`;
  }).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
<defs><linearGradient id="g"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>
<rect width="${size}" height="${size}" fill="url(#g)"/>${shapes}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
  const main = COLOURS[index % COLOURS.length] ?? "grey";
  return `${CLASS_TOKEN}, shapes, ${main} circles, gradient background, test pattern ${index}`;
}

/**
 * `{work}/data/{size}px/train/{repeats}_bench/` with DATASET_IMAGES square PNGs of the training size and a
 * `.txt` caption each. Repeats make one epoch at least `steps * batch` images, so neither trainer crosses
 * an epoch boundary (sd-scripts rebuilds its data loader there) during the measured steps.
 */
export async function ensureDataset(
  work: string,
  size: number,
  steps: number,
  batch: number,
): Promise<string> {
  const repeats = Math.max(1, Math.ceil((steps * batch) / DATASET_IMAGES));
  const trainDir = join(work, "data", `${size}px-r${repeats}`, "train");
  const folder = join(trainDir, `${repeats}_${CLASS_TOKEN}`);
  if (existsSync(folder) && (await readdir(folder)).length === DATASET_IMAGES * 2) return trainDir;
  await mkdir(folder, { recursive: true });
  for (let i = 0; i < DATASET_IMAGES; i++) {
    const stem = `img_${String(i).padStart(3, "0")}`;
    const caption = await writeImage(join(folder, `${stem}.png`), size, i);
    await writeFile(join(folder, `${stem}.txt`), `${caption}\n`);
  }
  return trainDir;
}
