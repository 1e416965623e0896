/**
 * Generation benchmark (prints figures; passes or fails nothing): seconds to the first image (from the
 * engine's start: Python imports, model load, prompt encoding, sampling, PNG) and images/s after it, for
 * an architecture, sampler, steps and size, through danlu's real path (buildGenerateSpec, the engine's
 * generate command). Tiny random-weight models (danlu model make-tiny) unless --model is given.
 *
 *   npx tsx bench/gen/index.ts --arch sd15 --sampler "DPM++ 2M Karras" --steps 20 --size 64 --images 8
 *       [--batch-size 1] [--model CKPT] [--lora FILE] [--device cpu|cuda|auto] [--threads N]
 *
 * --threads sets OMP_NUM_THREADS/MKL_NUM_THREADS for the engine (one thread is fastest on a shared CPU).
 * Work files live under bench/out/gen.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runEngine } from "../../src/engine/driver.ts";
import type { Arch } from "../../src/engine/spec.ts";
import { buildGenerateSpec } from "../../src/generate/gen.ts";

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
  },
});

const work = resolve("bench/out/gen");
const arch = values.arch as Arch;

async function tinyModel(): Promise<string> {
  const path = join(work, `tiny-${arch}`);
  if (!existsSync(path)) {
    await runEngine("make-tiny", { version: 1, arch, out: path, single_file: false, seed: 0 });
  }
  return path;
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
  });
  const started = performance.now();
  const times: number[] = [];
  await runEngine("generate", spec, {
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
    `${arch} ${model === values.model ? model : "tiny"}, ${values.sampler}, ${values.steps} steps, ${size}x${size}, batch ${batchSize}`,
  );
  console.log(`images: ${times.length}`);
  console.log(`seconds to the first image (engine start, model load, sampling): ${first.toFixed(2)}`);
  console.log(`images/s after the first batch: ${rate.toFixed(2)}  (${(1 / rate).toFixed(3)} s/image)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
