import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfigLayer } from "../config/index.ts";
import { runEngine } from "../engine/driver.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { runTrainingGroup } from "./run-many.ts";
import { prepareRun, runTraining } from "./run.ts";

// runTrainingGroup on the real engine (train-many) and the tiny SD1.5: each member gets a solo run's
// event stream and records, and a member's losses equal its solo run's (engine/tests/test_train_many.py
// holds the engine to rtol 1e-4; loss.csv keeps 6 significant digits).
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
    output_name: "t",
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

function losses(csv: string): number[] {
  return readFileSync(csv, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => Number(line.split(",")[2]));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-many-"));
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

describe("runTrainingGroup", () => {
  it("trains two runs in one engine, each with its own events, records and solo losses", async () => {
    const [dataA, dataB] = [await dataset("a", "#406080"), await dataset("b", "#a04020")];
    const solo = resolveTrainConfig([layer(dataA, join(root, "solo"), 1)]);
    const soloResult = await runTraining(solo, await prepareRun(solo), {
      onEvent: () => {},
      onNote: () => {},
    });
    expect(soloResult.status).toBe("done");

    const configs = [
      resolveTrainConfig([layer(dataA, join(root, "many-a"), 1)]),
      resolveTrainConfig([layer(dataB, join(root, "many-b"), 2)]),
    ];
    const seen: Record<string, EngineEvent[]> = { a: [], b: [] };
    const members = await Promise.all(
      configs.map(async (config, i) => {
        const id = i === 0 ? "a" : "b";
        const prepared = await prepareRun(config);
        return {
          id,
          config,
          prepared,
          options: { onEvent: (e: EngineEvent) => seen[id]!.push(e), onNote: () => {} },
        };
      }),
    );
    const results = await runTrainingGroup(members, { slots: 2 });

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    for (const id of ["a", "b"]) {
      const kinds = seen[id]!.map((e) => e.event);
      expect(kinds[0]).toBe("ready");
      expect(kinds.at(-1)).toBe("done");
      expect(kinds.filter((k) => k === "progress")).toHaveLength(3);
    }
    const done = results[1]!.status === "fulfilled" ? results[1]!.value : null;
    expect(done?.status === "done" && done.outputs.at(-1)).toBe(join(root, "many-b", "t.safetensors"));
    const soloLosses = losses(join(root, "solo", "logs", "t", "loss.csv"));
    const groupLosses = losses(join(root, "many-a", "logs", "t", "loss.csv"));
    expect(groupLosses).toHaveLength(soloLosses.length);
    groupLosses.forEach((loss, i) => expect(loss).toBeCloseTo(soloLosses[i]!, 3));
    expect(readFileSync(join(root, "many-b", "logs", "t", "train.log"), "utf8")).toContain("done: 3 steps");
  }, 300_000);
});
