import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfigLayer } from "../config/index.ts";
import { DanluError } from "../errors.ts";
import { prepareRun } from "./run.ts";

// The resume check on the real preparation path (model detection, dataset, plan), without the engine:
// a state is written as the engine writes it (train_state.json with the spec's run_record), then
// prepareRun({resume}) with one thing changed must refuse it, naming that thing, old and new.
let root = "";
let stateCount = 0;

async function png(path: string, width: number, height: number, colour = "#406080"): Promise<void> {
  await sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toFile(path);
}

/** A fresh copy of the dataset and the two base models for each test, so a test's edits stay its own. */
function fixture(): { data: string; model: string; other: string; dir: string } {
  const dir = join(root, `case-${++stateCount}`);
  cpSync(join(root, "template"), dir, { recursive: true });
  return { dir, data: join(dir, "train"), model: join(dir, "model"), other: join(dir, "other-model") };
}

// the tiny-model test settings: 64 px, buckets 64-128, dim 4 alpha 2, batch 2, 2 epochs, 2 repeats
function layer(
  f: { data: string; model: string; dir: string },
  extra: TrainConfigLayer = {},
): TrainConfigLayer {
  return {
    pretrained_model_name_or_path: f.model,
    train_data_dir: f.data,
    output_dir: join(f.dir, "out"),
    output_name: "t",
    resolution: [64, 64],
    min_bucket_reso: 64,
    max_bucket_reso: 128,
    network_dim: 4,
    network_alpha: 2,
    train_batch_size: 2,
    max_train_epochs: 2,
    learning_rate: 1e-4,
    device: "cpu",
    ...extra,
  };
}

/** A state as the engine saves it at `step` of the run `layer` describes. */
async function savedState(f: { data: string; model: string; dir: string }, step: number, epoch: number) {
  const prepared = await prepareRun(resolveTrainConfig([layer(f)]));
  const dir = join(f.dir, "out", `t-${String(epoch).padStart(6, "0")}-state`);
  mkdirSync(dir, { recursive: true });
  const state = { current_epoch: epoch, current_step: step, fingerprint: "abc", run: prepared.record };
  writeFileSync(join(dir, "train_state.json"), JSON.stringify(state));
  return { dir, prepared };
}

async function refusal(promise: Promise<unknown>): Promise<DanluError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DanluError);
  return error as DanluError;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-resume-"));
  const template = join(root, "template");
  const folder = join(template, "train", "2_sks");
  mkdirSync(folder, { recursive: true });
  for (const [name, w, h] of [
    ["a", 64, 64],
    ["b", 64, 64],
    ["c", 96, 64],
  ] as const) {
    await png(join(folder, `${name}.png`), w, h);
    writeFileSync(join(folder, `${name}.txt`), `sks, photo ${name}\n`);
  }
  for (const [model, bytes] of [
    ["model", "first"],
    ["other-model", "second"],
  ] as const) {
    mkdirSync(join(template, model, "unet"), { recursive: true });
    writeFileSync(join(template, model, "unet", "config.json"), "{}"); // a diffusers-folder stand-in (SD1.5)
    writeFileSync(join(template, model, "unet", "diffusion_pytorch_model.safetensors"), bytes);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("resume: the same run", () => {
  it("resumes when nothing changed, and the plan says from where", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    const prepared = await prepareRun(resolveTrainConfig([layer(f)]), { resume: dir });
    expect(prepared.resume).toMatchObject({ dir, step: 3, epoch: 1, warnings: [] });
    expect(prepared.report).toContain(`Resume\n  from step 3 (epoch 1) of ${dir}`);
    expect(prepared.report).not.toMatch(/continuing/u);
  });

  it("ignores what does not change the training: output, saves, samples, device switches", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    const changed = layer(f, {
      save_every_n_epochs: 1,
      save_state: true,
      gradient_checkpointing: true,
      cache_latents: true,
      output_dir: join(f.dir, "elsewhere"),
    });
    const prepared = await prepareRun(resolveTrainConfig([changed]), { resume: dir });
    expect(prepared.resume?.step).toBe(3);
  });
});

describe("resume: refused when the run changed, naming the field with old and new", () => {
  const settings: [string, TrainConfigLayer, string, string][] = [
    ["learning rate", { learning_rate: 5e-5 }, "learning_rate: 0.0001 -> 0.00005", "learning_rate = 0.0001"],
    ["unet lr", { unet_lr: 2e-4 }, "unet_lr: unset -> 0.0002", "unet_lr = unset"],
    [
      "text encoder lr",
      { text_encoder_lr: 1e-5 },
      "text_encoder_lr: unset -> 0.00001",
      "text_encoder_lr = unset",
    ],
    [
      "scheduler",
      { lr_scheduler: "cosine" },
      'lr_scheduler: "constant" -> "cosine"',
      'lr_scheduler = "constant"',
    ],
    ["warmup", { lr_warmup_steps: 2 }, "lr_warmup_steps: 0 -> 2", "lr_warmup_steps = 0"],
    ["batch size", { train_batch_size: 1 }, "train_batch_size: 2 -> 1", "train_batch_size = 2"],
    ["accumulation", { gradient_accumulation_steps: 2 }, "gradient_accumulation_steps: 1 -> 2", ""],
    // a step takes one micro-batch per process; one process is left out of the record (older states)
    ["processes", { num_processes: 2 }, "num_processes: 1 -> 2", "num_processes = 1"],
    ["resolution", { resolution: [128, 128], max_bucket_reso: 256 }, "resolution: [64,64] -> [128,128]", ""],
    ["buckets", { enable_bucket: false }, "enable_bucket: true -> false", "enable_bucket = true"],
    ["seed", { seed: 7 }, "seed: 42 -> 7", "seed = 42"],
    ["network dim", { network_dim: 8 }, "network_dim: 4 -> 8", "network_dim = 4"],
    ["optimizer", { optimizer_type: "Lion" }, 'optimizer_type: "AdamW" -> "Lion"', ""],
    ["precision", { mixed_precision: "bf16" }, 'mixed_precision: "no" -> "bf16"', ""],
    ["caption shuffle", { shuffle_caption: true }, "shuffle_caption: false -> true", ""],
  ];
  it.each(settings)("%s", async (_name, change, text, restore) => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f, change)]), { resume: dir }));
    expect(error.code).toBe("RESUME_MISMATCH");
    expect(error.message).toContain(`the state in ${dir} was saved by a different run`);
    expect(error.message).toContain(`changed (saved -> now):\n  ${text}`);
    expect(error.hint).toMatch(
      /^start a new output folder \(without --resume\), or put the old values back: /u,
    );
    if (restore) expect(error.hint).toContain(restore);
  });

  it("a base checkpoint with other weights", async () => {
    const f = fixture();
    const { dir, prepared } = await savedState(f, 3, 1);
    const error = await refusal(
      prepareRun(resolveTrainConfig([{ ...layer(f), pretrained_model_name_or_path: f.other }]), {
        resume: dir,
      }),
    );
    const id = prepared.record.base_model.id.slice(0, 8);
    expect(error.message).toMatch(
      new RegExp(`base model: ${f.model} \\(id ${id}\\) -> ${f.other} \\(id [0-9a-f]{8}\\)`, "u"),
    );
    expect(error.hint).toContain(`pretrained_model_name_or_path = "${f.model}"`);
  });

  it("the same checkpoint moved elsewhere is the same base model", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    renameSync(f.model, join(f.dir, "moved"));
    const moved = { ...layer(f), pretrained_model_name_or_path: join(f.dir, "moved") };
    expect((await prepareRun(resolveTrainConfig([moved]), { resume: dir })).resume?.step).toBe(3);
  });

  it("dataset: images added and removed", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    await png(join(f.data, "2_sks", "d.png"), 64, 64);
    await png(join(f.data, "2_sks", "e.png"), 64, 64);
    rmSync(join(f.data, "2_sks", "a.png"));
    rmSync(join(f.data, "2_sks", "a.txt"));
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f)]), { resume: dir }));
    expect(error.message).toContain(
      "dataset: 2 images added (sks/d.png, sks/e.png); 1 image removed (sks/a.png)",
    );
    expect(error.hint).toContain("the dataset's folders, images and captions as they were");
  });

  it("dataset: a caption changed, an image edited", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    writeFileSync(join(f.data, "2_sks", "c.txt"), "sks, another caption\n");
    await png(join(f.data, "2_sks", "b.png"), 64, 64, "#ff0000");
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f)]), { resume: dir }));
    expect(error.message).toContain(
      "dataset: 1 image file changed (sks/b.png); 1 caption changed (sks/c.png)",
    );
  });

  it("dataset: a folder's repeats (renamed 2_sks -> 3_sks)", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    renameSync(join(f.data, "2_sks"), join(f.data, "3_sks"));
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f)]), { resume: dir }));
    expect(error.message).toContain("changed (saved -> now):\n  dataset: folder sks repeats: 2 -> 3");
    expect(error.message).not.toMatch(/added|removed/u);
    expect(error.hint).toContain("2 repeats for sks");
  });

  it("lists every change at once", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    writeFileSync(join(f.data, "2_sks", "a.txt"), "changed\n");
    const change = layer(f, { learning_rate: 3e-4, seed: 1 });
    const error = await refusal(prepareRun(resolveTrainConfig([change]), { resume: dir }));
    const lines = error.message.split("\n").slice(2);
    expect(lines).toEqual([
      "  learning_rate: 0.0001 -> 0.0003",
      "  seed: 42 -> 1",
      "  dataset: 1 caption changed (sks/a.png)",
    ]);
  });
});

describe("resume: the run's length", () => {
  // 3 images x 2 repeats: 64x64 (4 uses -> 2 batches) + 96x64 bucket (2 uses -> 1 batch) = 3 steps per epoch
  it("more epochs on the same data continue the run, and the plan says so", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 3, 1);
    const prepared = await prepareRun(resolveTrainConfig([layer(f, { max_train_epochs: 4 })]), {
      resume: dir,
    });
    expect(prepared.resume?.notes).toEqual([
      `  from step 3 (epoch 1) of ${dir}`,
      "  continuing: 2 more epochs on the same data (epochs 3-4, steps 7-12; the saved run planned 2 epochs, 6 steps)",
    ]);
    expect(prepared.report).toContain("continuing: 2 more epochs on the same data");
  });

  it("a schedule drawn over the total steps says that it is stretched", async () => {
    const f = fixture();
    const saved = await prepareRun(resolveTrainConfig([layer(f, { lr_scheduler: "cosine" })]));
    const dir = join(f.dir, "state");
    mkdirSync(dir);
    const state = { current_epoch: 1, current_step: 3, fingerprint: "", run: saved.record };
    writeFileSync(join(dir, "train_state.json"), JSON.stringify(state));
    const longer = layer(f, { lr_scheduler: "cosine", max_train_epochs: 3 });
    const prepared = await prepareRun(resolveTrainConfig([longer]), { resume: dir });
    expect(prepared.resume?.notes.slice(1)).toEqual([
      "  continuing: 1 more epoch on the same data (epochs 3-3, steps 7-9; the saved run planned 2 epochs, 6 steps)",
      "  the cosine learning-rate schedule now spans 9 steps instead of 6: the steps left follow the new curve",
    ]);
  });

  it("more steps (max_train_steps) continue too", async () => {
    const f = fixture();
    const base = { max_train_epochs: undefined, max_train_steps: 5 } as TrainConfigLayer;
    const saved = await prepareRun(resolveTrainConfig([{ ...layer(f), ...base }]));
    const dir = join(f.dir, "state");
    mkdirSync(dir);
    const state = { current_epoch: 2, current_step: 4, fingerprint: "", run: saved.record };
    writeFileSync(join(dir, "train_state.json"), JSON.stringify(state));
    const longer = { ...layer(f), max_train_epochs: undefined, max_train_steps: 8 } as TrainConfigLayer;
    const prepared = await prepareRun(resolveTrainConfig([longer]), { resume: dir });
    expect(prepared.resume?.notes[1]).toBe(
      "  continuing: 3 more steps on the same data (steps 6-8; the saved run planned 2 epochs, 5 steps)",
    );
  });

  it("fewer epochs than the saved step are refused, naming max_train_epochs (no IndexError later)", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 6, 2);
    const error = await refusal(
      prepareRun(resolveTrainConfig([layer(f, { max_train_epochs: 1 })]), { resume: dir }),
    );
    expect(error.code).toBe("RESUME_MISMATCH");
    expect(error.message).toBe(
      `the state in ${dir} is at step 6 (epoch 2), past the end of this plan at step 3 (max_train_epochs: 2 -> 1)`,
    );
    expect(error.hint).toMatch(/max_train_epochs >= 2/u);
  });

  it("fewer epochs that still reach past the saved step end the run earlier", async () => {
    const f = fixture();
    const { dir } = await savedState(f, 2, 1);
    const prepared = await prepareRun(resolveTrainConfig([layer(f, { max_train_epochs: 1 })]), {
      resume: dir,
    });
    expect(prepared.resume?.notes[1]).toBe(
      "  ending earlier: at step 3 (epoch 1) instead of 6, on the same data (1 steps left; the saved run planned 2 epochs, 6 steps)",
    );
  });
});

describe("resume: states saved before the check", () => {
  it("resume with a warning that the state predates the check", async () => {
    const f = fixture();
    const dir = join(f.dir, "old-state");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "train_state.json"),
      JSON.stringify({ current_epoch: 1, current_step: 3, fingerprint: "x" }),
    );
    const prepared = await prepareRun(resolveTrainConfig([layer(f)]), { resume: dir });
    expect(prepared.resume?.warnings).toEqual([
      `the state in ${dir} predates danlu's resume check (its train_state.json records no run): its dataset, ` +
        "plan, learning rates and base model cannot be compared, so resume it only with the settings that saved " +
        "it (the engine still checks the model, network and optimizer)",
    ]);
  });

  it("are still refused past the plan's end", async () => {
    const f = fixture();
    const dir = join(f.dir, "old-state");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "train_state.json"),
      JSON.stringify({ current_epoch: 3, current_step: 9, fingerprint: "x" }),
    );
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f)]), { resume: dir }));
    expect(error.message).toMatch(/is at step 9 \(epoch 3\), past the end of this plan at step 6$/u);
  });

  it("a folder without train_state.json is not a state", async () => {
    const f = fixture();
    const error = await refusal(prepareRun(resolveTrainConfig([layer(f)]), { resume: f.data }));
    expect(error.code).toBe("BAD_RESUME");
  });
});
