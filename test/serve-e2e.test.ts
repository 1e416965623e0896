// End to end through a real `danlu serve` on a port and real `danlu worker` processes, on both queue
// backends (a SQLite file; a real redis-server): upload the sample photos, lay them out, train two epochs
// on a tiny model while reading the event stream, download the LoRA; a worker killed mid-training and a
// server restart lose nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { startRedis } from "../src/jobs/test-redis.ts";
import { readSafetensorsHeader } from "../src/lora/index.ts";
import { runCli } from "./cli.ts";
import {
  addUser,
  Api,
  startServe,
  startWorker,
  type ServeProcess,
  type SseEvent,
  type WorkerProcess,
} from "./serve.ts";

const PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"];
const MODEL = "tiny-sd15.safetensors";
/** A short lease so a killed worker's job comes back in seconds, not the default 30. */
const LEASE = ["--lease-ms", "3000"];

const TRAIN_CONFIG = {
  output_name: "t",
  resolution: [64, 64],
  min_bucket_reso: 64,
  max_bucket_reso: 128,
  network_dim: 4,
  network_alpha: 2,
  train_batch_size: 2,
  max_train_epochs: 2,
  save_every_n_epochs: 1,
  seed: 1,
  cache_latents: true,
  learning_rate: 1e-3,
  device: "cpu",
};

let modelFile = "";
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "danlu-serve-model-"));
  modelFile = join(dir, MODEL);
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--single-file", "--out", modelFile]);
  expect(made.code, made.stderr).toBe(0);
});

describe.each(["sqlite", "bullmq"] as const)("danlu serve with the %s queue", (backend) => {
  let root = "";
  let data = "";
  let queueArgs: string[] = [];
  let stopRedis: (() => Promise<void>) | null = null;
  let server: ServeProcess;
  let worker: WorkerProcess;
  let api: Api;
  /** The first test's uninterrupted training: the reference for the resumed one. */
  let uninterrupted = "";

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), `danlu-serve-${backend}-`));
    data = join(root, "data");
    mkdirSync(join(data, "models"), { recursive: true });
    writeFileSync(join(data, "models", MODEL), readFileSync(modelFile));
    if (backend === "bullmq") {
      const redis = await startRedis();
      stopRedis = redis.stop;
      queueArgs = ["--redis", redis.url];
    }
    const token = await addUser(data, "alice");
    server = await startServe(["--data", data, "--workers", "0", ...queueArgs]);
    worker = startWorker(["--data", data, ...LEASE, ...queueArgs]);
    api = new Api(server.url, token);
  });

  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
    await stopRedis?.();
    rmSync(root, { recursive: true, force: true });
  });

  async function submit(kind: string, params: Record<string, unknown>): Promise<string> {
    return (await api.post<{ id: string }>("/api/jobs", { kind, params })).id;
  }

  async function download(jobId: string, path: string): Promise<Buffer> {
    const response = await api.request(`/api/jobs/${jobId}/file?path=${encodeURIComponent(path)}`);
    expect(response.status, path).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  function lossRows(csv: Buffer): string[] {
    // step, epoch, loss (it/s differs from run to run)
    return csv
      .toString("utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((row) => row.split(",").slice(0, 3).join(","));
  }

  it("uploads photos, lays them out, trains two epochs with live events, and serves the LoRA", async () => {
    await api.post("/api/datasets", { name: "photos" });
    const form = new FormData();
    for (const photo of PHOTOS) {
      form.append("files", new Blob([readFileSync(join(REPO_ROOT, "fixtures", "photos", photo))]), photo);
    }
    form.append("files", new Blob([Buffer.from("not an image")]), "notes.png");
    const report = await api.json<Record<string, unknown>>("/api/datasets/photos/upload", {
      method: "POST",
      body: form,
    });
    expect(JSON.stringify(report)).toContain("notes.png");
    const images = await api.json<{ images: unknown[] }>("/api/datasets/photos/images?check=stored");
    expect(images.images).toHaveLength(PHOTOS.length);

    const layout = await submit("data-layout", {
      concepts: [{ name: "dlnsample", dataset: "photos" }],
      out: "train",
      repeats: { dlnsample: 2 }, // 10 images an epoch, 5 steps: quick on a CPU
      resolution: 64,
      min_bucket: 64,
      max_bucket: 128,
      batch_size: 2,
      epochs: 2,
    });
    expect((await api.waitFor(layout, ["succeeded", "failed"])).state).toBe("succeeded");

    const job = await submit("train", { dataset: "train", model: MODEL, config: TRAIN_CONFIG });
    uninterrupted = job;
    const seen: SseEvent[] = await api.events(job);
    const end = seen.at(-1)!;
    expect(end.event).toBe("end");
    expect(end.data, JSON.stringify(seen.filter((e) => e.event === "error"))).toMatchObject({
      state: "succeeded",
    });
    const progress = seen.filter((e) => e.event === "progress");
    const total = progress[0]?.data.total_steps as number;
    expect(total).toBeGreaterThan(0);
    expect(progress.map((e) => e.data.step)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const kinds = seen.filter((e) => e.event === "engine").map((e) => e.data.event);
    expect(kinds).toEqual(expect.arrayContaining(["ready", "phase", "checkpoint"]));
    expect(seen.filter((e) => e.event === "stage").map((e) => e.data.stage)).toEqual(
      expect.arrayContaining(["preparing", "training"]),
    );

    // a reconnect with Last-Event-ID gets exactly the rest
    const cut = seen[5]!.id!;
    const rest = await api.events(job, () => undefined, cut);
    expect(rest.filter((e) => e.id !== undefined).map((e) => e.id)).toEqual(
      seen.filter((e) => e.id !== undefined && e.id > cut).map((e) => e.id),
    );

    const record = await api.json<{ result: { files: string[] }; timings: { run_s: number } }>(
      `/api/jobs/${job}`,
    );
    expect(record.result.files).toEqual(["t-000001.safetensors", "t.safetensors"]);
    const lora = await download(job, "t.safetensors");
    const file = join(root, "downloaded.safetensors");
    writeFileSync(file, lora);
    const header = await readSafetensorsHeader(file);
    const keys = Object.keys(header.tensors);
    // sd-scripts' SD1.x LoRA: 192 UNet modules + 72 text encoder modules, 3 tensors each
    expect(keys).toHaveLength(264 * 3);
    expect(keys).toContain("lora_unet_mid_block_attentions_0_proj_in.alpha");
    expect(keys).toContain("lora_te_text_model_encoder_layers_11_mlp_fc2.lora_up.weight");
    expect(header.metadata.ss_network_dim).toBe("4");
  });

  it("resumes a training whose worker was killed with SIGKILL; its loss.csv equals an uninterrupted run's", async () => {
    expect(uninterrupted, "the first test trains the uninterrupted run").not.toBe("");
    const killed = await submit("train", { dataset: "train", model: MODEL, config: TRAIN_CONFIG });
    let restarted: Promise<void> | null = null;
    const seen = await api.events(killed, (event) => {
      if (
        !restarted &&
        event.event === "engine" &&
        event.data.event === "checkpoint" &&
        event.data.kind === "state"
      ) {
        restarted = worker.stop("SIGKILL").then(() => {
          worker = startWorker(["--data", data, ...LEASE, ...queueArgs]);
        });
      }
    });
    expect(restarted).not.toBeNull();
    await restarted;
    expect(seen.at(-1)?.data).toMatchObject({ state: "succeeded" });
    const record = await api.json<{ attempts: number; result: { resumed_from_step: number | null } }>(
      `/api/jobs/${killed}`,
    );
    expect(record.attempts).toBe(2);
    expect(record.result.resumed_from_step).toBeGreaterThan(0);
    const resumed = lossRows(await download(killed, "logs/t/loss.csv"));
    expect(resumed).toEqual(lossRows(await download(uninterrupted, "logs/t/loss.csv")));
    expect(resumed).toHaveLength(10);
  });

  it("cancels a running training within seconds (state saved) and resumes it to the uninterrupted losses", async () => {
    const job = await submit("train", { dataset: "train", model: MODEL, config: TRAIN_CONFIG });
    let cancelledAt = 0;
    const seen = await api.events(job, (event) => {
      if (!cancelledAt && event.event === "progress" && (event.data.step as number) >= 6) {
        cancelledAt = Date.now();
        void api.post(`/api/jobs/${job}/cancel`, {});
      }
    });
    expect(seen.at(-1)?.data).toMatchObject({ state: "cancelled" });
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    const files = await api.json<{ files: { path: string }[] }>(`/api/jobs/${job}/files`);
    expect(files.files.map((f) => f.path)).toContain("t-000001-state/train_state.json");

    const resumed = await api.post<{ state: string }>(`/api/jobs/${job}/resume`, {});
    expect(["queued", "running"]).toContain(resumed.state); // BullMQ's worker may take it at once
    expect((await api.waitFor(job, ["succeeded", "failed"])).state).toBe("succeeded");
    expect(lossRows(await download(job, "logs/t/loss.csv"))).toEqual(
      lossRows(await download(uninterrupted, "logs/t/loss.csv")),
    );
  });

  it("a server restart with jobs queued and running loses none", async () => {
    const trained = await api.json<{ jobs: { id: string }[] }>("/api/jobs?kind=train&state=succeeded");
    const lora = { job: trained.jobs.at(-1)!.id, file: "t.safetensors" };
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push(await submit("lora-info", { lora, norms: false }));
    await server.stop();
    server = await startServe(["--data", data, "--workers", "0", ...queueArgs]);
    api = new Api(server.url, api.token);
    for (const id of ids) expect((await api.waitFor(id, ["succeeded", "failed"])).state).toBe("succeeded");
  });
});
