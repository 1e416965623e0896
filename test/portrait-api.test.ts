// The portrait service end to end through a real `danlu serve` and a real `danlu worker` on a tiny SD1.5
// model: one POST /api/portraits with the selfies and the params; the job's event stream walks the seven
// stages in order; the result names the three dropped photos with their reasons and ranks two portraits
// per style (one of them the user's own template, posed by a ControlNet named from the service's models
// folder); the portraits, the LoRA and the report download through the artifacts route.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortraitResult } from "../src/portrait/pipeline.ts";
import { SELFIE_FILES, writeSelfies } from "../src/portrait/testing/selfies.ts";
import { REPO_ROOT } from "../src/engine/python.ts";
import { makeTinySd15, runCli } from "./cli.ts";
import { addUser, Api, startServe, startWorker, type ServeProcess, type WorkerProcess } from "./serve.ts";

const MODEL = "tiny-sd15.safetensors";
const CONTROLNET = "tiny-controlnet-sd15";
/** The portrait preset on the tiny model: 64 px, a few steps, on the CPU (as test/portrait-cli.test.ts). */
const TINY_PORTRAIT_CONFIG = {
  resolution: [64, 64],
  min_bucket_reso: 64,
  max_bucket_reso: 128,
  network_dim: 4,
  network_alpha: 2,
  train_batch_size: 2,
  max_train_steps: 4,
  mixed_precision: "no",
  save_precision: "float",
  learning_rate: 1e-3,
  unet_lr: 1e-3,
  device: "cpu",
};

let root = "";
let server: ServeProcess;
let worker: WorkerProcess;
let api: Api;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-portrait-api-"));
  const data = join(root, "data");
  mkdirSync(join(data, "models"), { recursive: true });
  await makeTinySd15(join(data, "models", MODEL));
  await writeSelfies(join(root, "selfies"));
  // a ControlNet by name, installed in the service's models folder (DATA/models), not danlu's own
  const made = await runCli([
    "model",
    "make-tiny",
    "--arch",
    "sd15",
    "--controlnet",
    "--out",
    join(data, "models", CONTROLNET),
  ]);
  expect(made.code, made.stderr).toBe(0);
  const token = await addUser(data, "alice");
  server = await startServe(["--data", data, "--workers", "0"]);
  worker = startWorker(["--data", data]);
  api = new Api(server.url, token);
  // alice's own style: a pose held by that ControlNet (the template names the model, the image is beside it)
  const me = await api.json<{ id: string }>("/api/me");
  const styles = join(data, "users", me.id, "styles");
  mkdirSync(styles, { recursive: true });
  copyFileSync(join(REPO_ROOT, "fixtures", "photos", "astronaut.png"), join(styles, "pose.png"));
  writeFileSync(
    join(styles, "pose.toml"),
    `title = "Pose"\ntitle_zh = "姿势"\nprompt = "photo of {trigger}"\n` +
      `[controlnet]\nmodel = "${CONTROLNET}"\nimage = "pose.png"\npreprocessor = "none"\n`,
  );
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("POST /api/portraits on a real worker", () => {
  it("takes the selfies and the params in one call and serves ranked portraits per style", async () => {
    const form = new FormData();
    for (const file of readdirSync(join(root, "selfies")).sort()) {
      form.append("files", new Blob([readFileSync(join(root, "selfies", file))]), file);
    }
    const params = {
      model: MODEL,
      styles: ["id_photo", "hanfu", "pose"],
      count: 2,
      candidates: 3,
      gen_steps: 2,
      width: 64,
      height: 64,
      device: "cpu",
      config: TINY_PORTRAIT_CONFIG,
    };
    form.append("params", JSON.stringify(params));
    const created = await api.json<{
      job: { id: string; state: string };
      dataset: string;
      upload: { counts: { imported: number } };
    }>("/api/portraits", { method: "POST", body: form });
    expect(created.job.state).toBe("queued");
    expect(created.upload.counts.imported).toBe(9);

    const seen = await api.events(created.job.id);
    const end = seen.at(-1)!;
    expect(end.event).toBe("end");
    expect(
      end.data,
      JSON.stringify(seen.filter((e) => e.event === "error" || e.event === "log").slice(-20)),
    ).toMatchObject({ state: "succeeded" });
    const stages = seen.filter((e) => e.event === "stage").map((e) => e.data.stage);
    expect([...new Set(stages)]).toEqual([
      "import",
      "select",
      "prepare",
      "train",
      "generate",
      "rank",
      "report",
    ]);

    const job = await api.json<{
      state: string;
      params: Record<string, unknown>;
      result: Omit<PortraitResult, "out">;
    }>(`/api/jobs/${created.job.id}`);
    expect(job.params).toMatchObject({ ...params, dataset: created.dataset });
    const { result } = job;
    const reasons = Object.fromEntries(result.photos.dropped.map((d) => [d.file, d.reason]));
    expect(reasons).toEqual({
      [SELFIE_FILES.blurry]: "blurry",
      [SELFIE_FILES.group]: "several-faces",
      [SELFIE_FILES.intruder]: "other-person",
    });
    expect(result.styles.map((s) => s.name)).toEqual(["id_photo", "hanfu", "pose"]);
    for (const style of result.styles) {
      expect(style.portraits).toHaveLength(2);
      for (const portrait of style.portraits) {
        expect(portrait.score).toBeTypeOf("number");
        const png = await api.request(
          `/api/jobs/${created.job.id}/file?path=${encodeURIComponent(portrait.file)}`,
        );
        expect(png.status, portrait.file).toBe(200);
        expect(
          Buffer.from(await png.arrayBuffer())
            .subarray(1, 4)
            .toString(),
        ).toBe("PNG");
      }
    }
    for (const path of [result.lora, result.report]) {
      const file = await api.request(`/api/jobs/${created.job.id}/file?path=${encodeURIComponent(path)}`);
      expect(file.status, path).toBe(200);
      expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  }, 600_000);
});
