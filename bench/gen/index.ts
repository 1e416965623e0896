/**
 * Generation benchmark (prints figures; passes or fails nothing): seconds to the first image (from the
 * engine's start: Python imports, model load, prompt encoding, sampling, PNG) and images/s after it, for
 * an architecture, sampler, steps, size and mode, through danlu's real path (buildGenerateSpec, the engine's
 * generate command). Tiny random-weight models (danlu model make-tiny) unless --model is given.
 *
 *   npx tsx bench/gen/index.ts --arch sd15 --sampler "DPM++ 2M Karras" --steps 20 --size 64 --images 8
 *       [--mode txt2img|img2img|inpaint|inpaint-masked|hires|detail|controlnet|controlnet-2] [--batch-size 1]
 *       [--model CKPT] [--lora FILE]
 *       [--device cpu|cuda|auto] [--threads N]
 *
 * Modes: img2img and inpaint start from a generated --size x --size picture at strength 0.75 (inpaint: a
 * centred half-size mask, blur 4; inpaint-masked: only the masked box, padding 32); hires is the
 * txt2img first pass at --size, x2 with the Latent upscaler and 10 hires steps at denoising 0.7.
 * detail: face detailing (src/generate/detailer.ts) of one photo with one face (fixtures/photos/astronaut.png,
 * 512 px) at working size --size, denoising 0.4: the face models' load, then detection plus the face pass's
 * engine run (start, model load, --steps x 0.4 steps of only-masked inpainting, paste back, PNG text).
 * controlnet: txt2img with one tiny ControlNet (make-tiny --controlnet) on the canny map of that picture;
 * controlnet-2: two units (canny, and the picture itself as a map); the maps are made before the timing.
 * --threads sets OMP_NUM_THREADS/MKL_NUM_THREADS for the engine (one thread is fastest on a shared CPU).
 * Work files live under bench/out/gen.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { runEngine } from "../../src/engine/driver.ts";
import type { Arch } from "../../src/engine/spec.ts";
import { analyzeFile, loadFaceAnalyzer } from "../../src/faces/index.ts";
import { detailFaces } from "../../src/generate/detailer.ts";
import { prepareControlMaps } from "../../src/generate/controlnet.ts";
import { buildGenerateSpec, type GenOptions } from "../../src/generate/gen.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "sd15" },
    sampler: { type: "string", default: "DPM++ 2M Karras" },
    steps: { type: "string", default: "20" },
    size: { type: "string", default: "64" },
    images: { type: "string", default: "8" },
    "batch-size": { type: "string", default: "1" },
    model: { type: "string" },
    lora: { type: "string" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "1" },
    mode: { type: "string", default: "txt2img" },
  },
});
const MODES = [
  "txt2img",
  "img2img",
  "inpaint",
  "inpaint-masked",
  "hires",
  "detail",
  "controlnet",
  "controlnet-2",
];

const work = resolve("bench/out/gen");
const arch = values.arch as Arch;

async function tinyModel(): Promise<string> {
  const path = join(work, `tiny-${arch}`);
  if (!existsSync(path)) {
    await runEngine("make-tiny", {
      version: 1,
      arch,
      out: path,
      single_file: false,
      inpainting: false,
      seed: 0,
    });
  }
  return path;
}

/** The mode's options: a start picture and a centred half-size mask for img2img/inpaint, the hires block. */
async function modeOptions(mode: string, size: number): Promise<Partial<GenOptions>> {
  if (!MODES.includes(mode)) throw new Error(`--mode ${mode}: one of ${MODES.join(", ")}`);
  if (mode === "txt2img" || mode === "detail") return {};
  if (mode === "hires") return { hires: { scale: 2, steps: 10, denoising: 0.7, upscaler: "Latent" } };
  mkdirSync(work, { recursive: true });
  const init = join(work, `init-${size}.png`);
  const mask = join(work, `mask-${size}.png`);
  const gradient = Buffer.from(Array.from({ length: size * size * 3 }, (_, i) => (i * 31) % 256));
  await sharp(gradient, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toFile(init);
  const square = Buffer.alloc(size * size);
  for (let y = size / 4; y < (3 * size) / 4; y++)
    square.fill(255, y * size + size / 4, y * size + (3 * size) / 4);
  await sharp(square, { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toFile(mask);
  if (mode.startsWith("controlnet")) {
    const model = join(work, `tiny-${arch}-controlnet.safetensors`);
    if (!existsSync(model))
      await runEngine("make-tiny", {
        version: 1,
        arch,
        out: model,
        single_file: true,
        inpainting: false,
        seed: 1,
        controlnet: true,
      });
    const canny = { model, image: init, preprocessor: "canny" };
    const units =
      mode === "controlnet" ? [canny] : [canny, { model, image: init, preprocessor: "none", weight: 0.5 }];
    return { controlnets: units };
  }
  if (mode === "img2img") return { initImage: init };
  return { initImage: init, inpaint: { mask, area: mode === "inpaint-masked" ? "masked" : "whole" } };
}

async function main(): Promise<void> {
  process.env.OMP_NUM_THREADS = values.threads;
  process.env.MKL_NUM_THREADS = values.threads;
  const model = values.model ?? (await tinyModel());
  const size = Number(values.size);
  const batchSize = Number(values["batch-size"]);
  const spec = buildGenerateSpec({
    model,
    arch,
    prompt: "a photo of a cat, (detailed:1.2), [blurry] BREAK red scarf",
    negative: "lowres",
    loras: values.lora ? [values.lora] : [],
    sampler: values.sampler,
    steps: Number(values.steps),
    cfg: 7,
    width: size,
    height: size,
    seed: 1,
    batchCount: Math.ceil(Number(values.images) / batchSize),
    batchSize,
    clipSkip: 1,
    strength: 0.75,
    out: mkdtempSync(join(work, "run-")),
    device: values.device as "auto" | "cpu" | "cuda",
    precision: "no",
    ...(await modeOptions(values.mode, size)),
  });
  if (values.mode === "detail") return benchDetail(spec, size);
  const mapsStarted = performance.now();
  const ready = await prepareControlMaps(spec);
  if (values.mode.startsWith("controlnet"))
    console.log(`seconds to make the control maps: ${((performance.now() - mapsStarted) / 1000).toFixed(2)}`);
  const started = performance.now();
  const times: number[] = [];
  await runEngine("generate", ready, {
    onEvent: (event) => {
      if (event.event === "sample") times.push((performance.now() - started) / 1000);
    },
  });
  const first = times[0] ?? Number.NaN;
  const last = times.at(-1) ?? Number.NaN;
  // the images after the first batch: the steady rate without start-up costs
  const rest = times.length - batchSize;
  const firstBatchEnd = times[batchSize - 1] ?? first;
  const rate = rest > 0 ? rest / (last - firstBatchEnd) : Number.NaN;
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, device ${values.device}, threads ${values.threads}`,
  );
  console.log(
    `${arch} ${model === values.model ? model : "tiny"}, ${values.mode}, ${values.sampler}, ${values.steps} steps, ${size}x${size}, batch ${batchSize}`,
  );
  console.log(`images: ${times.length}`);
  console.log(`seconds to the first image (engine start, model load, sampling): ${first.toFixed(2)}`);
  console.log(`images/s after the first batch: ${rate.toFixed(2)}  (${(1 / rate).toFixed(3)} s/image)`);
}

/** --mode detail: seconds to load the face models, then to detail one face (detection and the engine run). */
async function benchDetail(spec: Parameters<typeof detailFaces>[0], size: number): Promise<void> {
  const photo = join(spec.output.dir, "00000-1.png");
  copyFileSync(resolve("fixtures/photos/astronaut.png"), photo);
  let started = performance.now();
  const analyzer = await loadFaceAnalyzer();
  const load = (performance.now() - started) / 1000;
  started = performance.now();
  const faces = await analyzeFile(analyzer, photo, { minScore: 0.3 });
  const detect = (performance.now() - started) / 1000;
  started = performance.now();
  const [done] = await detailFaces(spec, [{ path: photo, job: 0, seed: 1 }], { size }, { analyzer });
  const total = (performance.now() - started) / 1000;
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, device ${values.device}, threads ${values.threads}`,
  );
  console.log(`${arch} tiny, detail, ${values.sampler}, ${values.steps} steps x 0.4, working size ${size}`);
  console.log(`faces found: ${faces.length}, repainted: ${done?.faces ?? 0}`);
  console.log(`seconds to load the face models: ${load.toFixed(2)}`);
  console.log(`seconds to find the faces (512 px photo): ${detect.toFixed(2)}`);
  console.log(
    `seconds to detail the image (detection, engine start, model load, inpaint, PNG): ${total.toFixed(2)}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
