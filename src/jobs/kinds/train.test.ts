import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runEngine } from "../../engine/driver.ts";
import { REPO_ROOT } from "../../engine/python.ts";
import { JobCancelledError } from "../types.ts";
import { KindHarness } from "./test-support.ts";

// The engine kinds end to end on a tiny SD1.5 model: train (2 epochs, 10 steps at 64 px, the settings of
// test/train-e2e.test.ts), a cancel and the resume that follows, gen with the LoRA by {job, file}, grid,
// lora-info.
// One torch thread per engine, as scripts/test.mjs runs them: oversubscribed threads crawl on two cores.
process.env.OMP_NUM_THREADS ??= "1";

const PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"];
const harness = new KindHarness();

const trainParams = {
  dataset: "train",
  model: "sd15.safetensors",
  config: {
    output_name: "t",
    resolution: 64,
    min_bucket_reso: 64,
    max_bucket_reso: 128,
    network_dim: 4,
    network_alpha: 2,
    train_batch_size: 2,
    device: "cpu",
    seed: 1,
    cache_latents: true,
    learning_rate: 1e-3,
    max_train_epochs: 2,
    sample_every_n_epochs: 1,
  },
  sample_prompts: "dlnsample, an astronaut --n blurry --w 64 --h 64 --d 3 --s 2",
};

/** loss.csv's step, epoch and loss columns (it_per_s differs between runs). */
function losses(jobId: string): string[] {
  const text = readFileSync(join(harness.jobDir(jobId), "logs", "t", "loss.csv"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((row) => row.split(",").slice(0, 3).join(","));
}

beforeAll(async () => {
  const model = join(harness.data.modelsDir, "sd15.safetensors");
  await runEngine("make-tiny", {
    version: 1,
    arch: "sd15",
    out: model,
    single_file: true,
    inpainting: false,
    seed: 0,
  });
  mkdirSync(harness.datasetDir("raw"), { recursive: true });
  for (const photo of PHOTOS) {
    cpSync(join(REPO_ROOT, "fixtures", "photos", photo), join(harness.datasetDir("raw"), photo));
  }
  await harness.run("data-import", { sources: [{ dataset: "raw" }], out: "photos" });
  const concepts = [{ name: "dlnsample", dataset: "photos" }];
  const buckets = { resolution: 64, min_bucket: 64, max_bucket: 128 };
  await harness.run("data-layout", { concepts, repeats: { dlnsample: 2 }, out: "train", ...buckets });
});

describe("train kind", () => {
  it("trains 2 epochs into the job's folder and reports files, steps and logs", async () => {
    const { result, recording, runDir } = await harness.run("train", trainParams, { jobId: "full" });
    expect(result).toMatchObject({
      files: ["t-000001.safetensors", "t.safetensors"],
      steps: 10,
      logs: "logs/t",
      resumed_from_step: null,
    });
    expect(recording.stages).toEqual(["preparing", "training"]);
    expect(recording.engine[0]?.event).toBe("ready");
    expect(recording.engine.at(-1)?.event).toBe("done");
    expect(recording.engine.filter((e) => e.event === "progress")).toHaveLength(10);
    expect(readFileSync(join(runDir, "prompts.txt"), "utf8")).toBe(`${trainParams.sample_prompts}\n`);
    expect(existsSync(join(runDir, "sample", "t_e000002_00.png"))).toBe(true);
    expect(existsSync(join(runDir, "t-000001-state", "train_state.json"))).toBe(true); // save_state forced on
    expect(losses("full")).toHaveLength(11);
  });

  it("ends cancelled on abort, then resumes from the newest state with the uninterrupted run's losses", async () => {
    const controller = new AbortController();
    const first = harness.run("train", trainParams, {
      jobId: "resumed",
      signal: controller.signal,
      onEngineEvent: (event) => {
        if (event.event === "checkpoint" && event.kind === "state") controller.abort();
      },
    });
    await expect(first).rejects.toBeInstanceOf(JobCancelledError);
    const stopped = harness.recordings.get("resumed")!.logs.map((log) => log.message);
    expect(stopped.at(-1)).toMatch(/^stopped at step \d+; state saved in t-step\d{8}-state$/);

    const again = await harness.run("train", trainParams, { jobId: "resumed", attempt: 2 });
    expect(again.result.resumed_from_step).toBeGreaterThanOrEqual(5);
    expect(again.result.files).toEqual(["t-000001.safetensors", "t.safetensors"]);
    const step = String(again.result.resumed_from_step);
    // the epoch-1 state and the cancel's state may both be at step 5: either resumes the same run
    expect(again.recording.logs.map((log) => log.message)).toContainEqual(
      expect.stringMatching(new RegExp(`^resuming from t-(\\d{6}|step\\d{8})-state at step ${step}$`)),
    );
    expect(losses("resumed")).toEqual(losses("full"));
  });

  it("gen draws with the trained LoRA named by {job, file}", async () => {
    const { result, recording } = await harness.run("gen", {
      model: "sd15.safetensors",
      prompt: "dlnsample, an astronaut",
      loras: [{ job: "full", file: "t.safetensors", weight: 0.8 }],
      width: 64,
      height: 64,
      steps: 2,
      seed: 7,
      device: "cpu",
    });
    expect(result).toMatchObject({ images: ["images/00000-7.png"], seed: 7 });
    expect(recording.progress).toEqual([{ step: 1, total: 1 }]);
  });

  it("grid draws the training job's run (its sample prompt) into this job's folder", async () => {
    const { result, runDir } = await harness.run("grid", {
      target: { job: "full" },
      x: "weight=0.5,1",
      device: "cpu",
    });
    expect(result.grids).toEqual(["grid.png"]);
    const cells = result.cells as { x: number; image: string }[];
    expect(cells.map((cell) => cell.x)).toEqual([0, 1]);
    for (const cell of cells) expect(existsSync(join(runDir, cell.image))).toBe(true);
  });

  it("lora-info reads a file of the training job", async () => {
    const { result } = await harness.run("lora-info", {
      lora: { job: "full", file: "t-000001.safetensors" },
      modules: false,
    });
    expect(result).toMatchObject({
      info: { hash: { status: "ok" }, metadata: { ss_epoch: "1", ss_network_dim: "4" } },
      summary: { architecture: expect.stringMatching(/^SD/) },
    });
    expect(result.info).not.toHaveProperty("modules");
    expect(JSON.stringify(result)).not.toContain(harness.data.root);
  });
});
