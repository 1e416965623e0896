import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { readKohyaDataset } from "../dataset/kohya/index.ts";
import { DEFAULT_CAPTION_OPTIONS } from "./captions.ts";
import { datasetMetadata } from "./metadata.ts";
import { formatPlan } from "./plan-report.ts";
import { buildPlan } from "./plan.ts";
import { SD15_512_BUCKETS } from "./test-support.ts";

// The bundled sample photos laid out as a kohya folder, read, planned and reported: the path `danlu train` takes.
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-plan-"));
  const folder = join(root, "train", "5_sks cat");
  await mkdir(folder, { recursive: true });
  const photos = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"];
  for (const photo of photos)
    await copyFile(join(process.cwd(), "fixtures/photos", photo), join(folder, photo));
  await writeFile(join(folder, "chelsea.txt"), "sks cat, lying, indoors\n");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

test("sample photos: buckets, steps, captions and metadata", async () => {
  const dataset = await readKohyaDataset({ trainDataDir: join(root, "train"), captionExtension: ".txt" });
  const plan = buildPlan(dataset, {
    ...SD15_512_BUCKETS,
    batchSize: 2,
    maxTrainEpochs: 2,
    gradientAccumulationSteps: 1,
    seed: 7,
    captions: DEFAULT_CAPTION_OPTIONS,
    flipAug: true,
    priorLossWeight: 1,
  });
  // astronaut, camera 512x512; chelsea 451x300, coffee 600x400, rocket 640x427: aspect ~1.5 -> 640x384
  expect(plan.images.map((i) => [i.path.split("/").pop(), i.width, i.height, i.bucket])).toEqual([
    ["astronaut.png", 512, 512, [512, 512]],
    ["camera.png", 512, 512, [512, 512]],
    ["chelsea.png", 451, 300, [640, 384]],
    ["coffee.png", 600, 400, [640, 384]],
    ["rocket.jpg", 640, 427, [640, 384]],
  ]);
  expect(plan.buckets).toEqual([
    { size: [512, 512], count: 10 },
    { size: [640, 384], count: 15 },
  ]);
  expect([plan.batchesPerEpoch, plan.totalSteps]).toEqual([5 + 8, 26]);
  const captions = new Set(plan.epochs.flat().flatMap((b) => b.captions));
  expect(captions).toEqual(new Set(["sks cat", "sks cat, lying, indoors"]));

  const report = formatPlan(plan, { saveEveryNEpochs: 1, saveEveryNSteps: 0, outputName: "sks" });
  expect(report).toContain("  5_sks cat       5        5         25");
  expect(report).toContain("sks-000001.safetensors");
  const metadata = datasetMetadata(plan, {
    subsets: dataset.subsets,
    captions: DEFAULT_CAPTION_OPTIONS,
    flipAug: true,
    randomCrop: false,
    priorLossWeight: 1,
  });
  expect(metadata.ss_tag_frequency).toBe('{"5_sks cat": {"sks cat": 5, "lying": 1, "indoors": 1}}');
  expect(metadata.ss_dataset_dirs).toBe('{"5_sks cat": {"n_repeats": 5, "img_count": 5}}');
});
