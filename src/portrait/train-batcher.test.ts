import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfigLayer } from "../config/index.ts";
import { runEngine } from "../engine/driver.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { prepareRun } from "../training/run.ts";
import { allAborted, batchKey, setPortraitBatch, trainPortrait } from "./train-batcher.ts";

// The portrait training batcher on the real engine and the tiny SD1.5: two trainings submitted together
// with batching on train in one train-many process (its spec names both), each with its own LoRA and
// events; batching off trains through runTraining as before.
let root = "";
let model = "";

async function dataset(name: string, colour: string): Promise<string> {
  const folder = join(root, name, "2_sks");
  mkdirSync(folder, { recursive: true });
  for (const image of ["a", "b", "c"]) {
    await sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
      .composite([
        { input: { create: { width: 16, height: 16, channels: 3, background: "#fff" } }, left: 8, top: 8 },
      ])
      .png()
      .toFile(join(folder, `${image}.png`));
    writeFileSync(join(folder, `${image}.txt`), `sks, photo ${image}\n`);
  }
  return join(root, name);
}

function layer(data: string, out: string, seed: number): TrainConfigLayer {
  return {
    pretrained_model_name_or_path: model,
    train_data_dir: data,
    output_dir: out,
    output_name: "portrait",
    resolution: [64, 64],
    min_bucket_reso: 64,
    max_bucket_reso: 128,
    network_dim: 4,
    network_alpha: 2,
    network_train_unet_only: true,
    train_batch_size: 2,
    max_train_epochs: 1,
    learning_rate: 1e-3,
    seed,
    device: "cpu",
  };
}

async function setup(name: string, colour: string, seed: number) {
  const config = resolveTrainConfig([layer(await dataset(name, colour), join(root, `out-${name}`), seed)]);
  return { config, prepared: await prepareRun(config) };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-portrait-batch-"));
  model = join(root, "sd15.safetensors");
  const made = await runEngine("make-tiny", {
    version: 1,
    arch: "sd15",
    out: model,
    single_file: true,
    inpainting: false,
    seed: 0,
  });
  expect(made.status).toBe("done");
}, 300_000);

afterEach(() => setPortraitBatch());

describe("trainPortrait", () => {
  it("trains two portraits waiting together in one train-many engine, each its own LoRA", async () => {
    setPortraitBatch({ size: 2, windowMs: 30_000 });
    const runs = [await setup("a", "#406080", 1), await setup("b", "#a04020", 2)];
    const seen: EngineEvent[][] = [[], []];
    const results = await Promise.all(
      runs.map(({ config, prepared }, i) =>
        trainPortrait(config, prepared, { onEvent: (e) => seen[i]!.push(e), onNote: () => {} }),
      ),
    );
    expect(results.map((r) => r.groupSize)).toEqual([2, 2]);
    for (const [i, { config }] of runs.entries()) {
      expect(results[i]!.result.status).toBe("done");
      expect(existsSync(join(config.output_dir, "portrait.safetensors"))).toBe(true);
      expect(seen[i]!.map((e) => e.event).at(-1)).toBe("done");
    }
    // the one engine process's spec, beside the first member's records, holds both trainings
    const logs = join(runs[0]!.config.output_dir, "logs", "portrait");
    const specs = readdirSync(logs).filter((f) => f.startsWith("train-many-"));
    expect(specs).toHaveLength(1);
    const spec = JSON.parse(readFileSync(join(logs, specs[0]!), "utf8")) as {
      jobs: { spec: { output: { dir: string } } }[];
    };
    expect(spec.jobs.map((j) => j.spec.output.dir)).toEqual(runs.map((r) => r.config.output_dir));
  }, 300_000);

  it("trains alone through runTraining with batching off (the default)", async () => {
    const { config, prepared } = await setup("solo", "#208040", 3);
    const events: EngineEvent[] = [];
    const { result, groupSize } = await trainPortrait(config, prepared, {
      onEvent: (e) => events.push(e),
      onNote: () => {},
    });
    expect(groupSize).toBe(1);
    expect(result.status).toBe("done");
    expect(existsSync(join(config.output_dir, "portrait.safetensors"))).toBe(true);
    const logs = join(config.output_dir, "logs", "portrait");
    expect(readdirSync(logs).filter((f) => f.startsWith("train-many-"))).toEqual([]);
    // the solo train command's own spec
    expect(JSON.parse(readFileSync(join(logs, "spec.json"), "utf8"))).toHaveProperty("version", 1);
    expect(events.map((e) => e.event).at(-1)).toBe("done");
  }, 300_000);

  it("lets a training cancelled while it waits for its group leave at once, untrained", async () => {
    setPortraitBatch({ size: 2, windowMs: 60_000 });
    const { config, prepared } = await setup("cancel", "#804020", 4);
    expect(batchKey(config, prepared)).not.toBeNull();
    const controller = new AbortController();
    const waiting = trainPortrait(config, prepared, {
      onEvent: () => {},
      onNote: () => {},
      signal: controller.signal,
    });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "CANCELLED" });
    expect(existsSync(join(config.output_dir, "portrait.safetensors"))).toBe(false);
  }, 120_000);

  it("keeps a training train-many cannot do out of any group", async () => {
    const data = await dataset("te", "#102030");
    const config = resolveTrainConfig([
      { ...layer(data, join(root, "out-te"), 5), network_train_unet_only: false },
    ]);
    expect(batchKey(config, await prepareRun(config))).toBeNull();
  }, 120_000);
});

describe("allAborted", () => {
  it("aborts once every member's signal has", () => {
    const [a, b] = [new AbortController(), new AbortController()];
    const both = allAborted([a.signal, b.signal]);
    a.abort();
    expect(both?.aborted).toBe(false);
    b.abort();
    expect(both?.aborted).toBe(true);
    expect(allAborted([a.signal, undefined])).toBeUndefined();
  });
});
