// End to end through the real CLI and the real engine on tiny models: the files a run writes, their
// keys and metadata, samples, resume after Ctrl-C/SIGTERM, SDXL, and that the loss falls when overfitting.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { engineEvent } from "../src/engine/protocol.ts";
import { REPO_ROOT } from "../src/engine/python.ts";
import { readLoraInfo, readSafetensorsHeader } from "../src/lora/index.ts";
import { runCli } from "./cli.ts";

const PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"];
let root = "";

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

function layOutDataset(dir: string, repeats: number, photos = PHOTOS): string {
  const folder = join(dir, `${repeats}_dlnsample`);
  mkdirSync(folder, { recursive: true });
  for (const photo of photos) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, photo));
    writeFileSync(
      join(folder, photo.replace(/\.\w+$/, ".txt")),
      `dlnsample, ${photo.split(".")[0]}, photo\n`,
    );
  }
  return dir;
}

function trainArgs(model: string, data: string, out: string, extra: string[] = []): string[] {
  return [
    "train",
    ...["--pretrained-model-name-or-path", model, "--train-data-dir", data, "--output-dir", out],
    ...["--output-name", "t", "--resolution", "64", "--min-bucket-reso", "64", "--max-bucket-reso", "128"],
    ...["--network-dim", "4", "--network-alpha", "2", "--train-batch-size", "2", "--device", "cpu"],
    ...["--seed", "1", "--cache-latents", "--learning-rate", "1e-3", "--json"],
    ...extra,
  ];
}

function lossColumn(out: string): string[] {
  const rows = readFileSync(join(out, "logs", "t", "loss.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1);
  return rows.map((row) => row.split(",").slice(0, 3).join(","));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-e2e-"));
  const made = await runCli([
    "model",
    "make-tiny",
    "--arch",
    "sd15",
    "--single-file",
    "--out",
    join(root, "sd15.safetensors"),
  ]);
  expect(made.code, made.stderr).toBe(0);
  layOutDataset(join(root, "train"), 2);
  writeFileSync(join(root, "prompts.txt"), "dlnsample, an astronaut --n blurry --w 64 --h 64 --d 3 --s 2\n");
});

describe("danlu train (SD1.5 tiny, single-file checkpoint)", () => {
  const model = () => join(root, "sd15.safetensors");
  const full = () => join(root, "out-full");
  const sampleFlags = () => ["--sample-prompts", join(root, "prompts.txt"), "--sample-every-n-epochs", "1"];

  it("writes exactly the planned files, kohya keys, metadata and samples", async () => {
    const result = await runCli(
      trainArgs(model(), join(root, "train"), full(), [
        "--max-train-epochs",
        "2",
        "--save-state",
        ...sampleFlags(),
      ]),
    );
    expect(result.code, result.stderr).toBe(0);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => engineEvent.parse(JSON.parse(line)));
    expect(events[0]?.event).toBe("ready");
    expect(events.at(-1)?.event).toBe("done");

    const files = listFiles(full()).filter((file) => !file.includes("-state/"));
    expect(files).toEqual([
      "logs/t/loss.csv",
      "logs/t/spec.json",
      "logs/t/train.log",
      "sample/t_e000001_00.png",
      "sample/t_e000002_00.png",
      "t-000001.safetensors",
      "t.safetensors",
    ]);
    expect(existsSync(join(full(), "t-000001-state", "train_state.json"))).toBe(true);

    const header = await readSafetensorsHeader(join(full(), "t.safetensors"));
    const names = Object.keys(header.tensors);
    // sd-scripts' SD1.x LoRA: 192 UNet modules + 72 text encoder modules, 3 tensors each.
    expect(names.length).toBe(264 * 3);
    expect(names).toContain(
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight",
    );
    expect(names).toContain("lora_unet_mid_block_attentions_0_proj_in.alpha");
    expect(names).toContain("lora_te_text_model_encoder_layers_11_mlp_fc2.lora_up.weight");
    const meta = header.metadata ?? {};
    expect(meta["ss_network_module"]).toBe("networks.lora");
    expect(meta["ss_network_dim"]).toBe("4");
    expect(JSON.parse(meta["ss_tag_frequency"] ?? "{}")).toMatchObject({ "2_dlnsample": { dlnsample: 5 } });
    expect(JSON.parse(meta["ss_dataset_dirs"] ?? "{}")).toEqual({
      "2_dlnsample": { n_repeats: 2, img_count: 5 },
    });
    expect(meta["modelspec.architecture"]).toBe("stable-diffusion-v1/lora");
    expect(meta["ss_epoch"]).toBe("2");

    const info = await readLoraInfo(join(full(), "t.safetensors"), { hash: true });
    expect(info.hash.status).toBe("ok");
    const cli = await runCli(["lora", "info", join(full(), "t-000001.safetensors")]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/UNet: 192 modules/);
    expect(cli.stdout).toMatch(/epoch 1 of 2/);
  });

  it("stops cleanly on SIGTERM with a state, and a resumed run reproduces the uninterrupted losses", async () => {
    const out = join(root, "out-resumed");
    const args = trainArgs(model(), join(root, "train"), out, [
      "--max-train-epochs",
      "2",
      "--save-state",
      ...sampleFlags(),
    ]);
    let signalled = false;
    const first = await runCli(args, {
      onLine: (line, child) => {
        const event = JSON.parse(line) as { event: string; step?: number };
        if (!signalled && event.event === "progress" && (event.step ?? 0) >= 3) {
          signalled = true;
          child.kill("SIGTERM");
        }
      },
    });
    expect(first.code, first.stderr).toBe(130);
    const cancelled = first.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .at(-1);
    expect(cancelled.event).toBe("cancelled");
    expect(first.stderr).toMatch(/--resume /);

    const resumed = await runCli([...args, "--resume", cancelled.state_dir]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lossColumn(out)).toEqual(lossColumn(full()));
    expect(existsSync(join(out, "t.safetensors"))).toBe(true);
  });

  it("lowers the loss clearly on a small overfit set", async () => {
    const data = layOutDataset(join(root, "overfit"), 1, ["astronaut.png", "coffee.png"]);
    const out = join(root, "out-overfit");
    const result = await runCli(
      trainArgs(model(), data, out, [
        ...["--max-train-epochs", "60", "--save-every-n-epochs", "0", "--network-train-unet-only"],
        ...["--unet-lr", "1e-2", "--network-dim", "8", "--network-alpha", "8"],
      ]),
    );
    expect(result.code, result.stderr).toBe(0);
    const losses = lossColumn(out).map((row) => Number(row.split(",")[2]));
    expect(losses.length).toBe(60);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean(losses.slice(-12))).toBeLessThan(0.8 * mean(losses.slice(0, 12)));
  });
});

describe("danlu train (SDXL tiny, diffusers folder)", () => {
  it("writes SDXL keys with LDM UNet names and both text encoders", async () => {
    const model = join(root, "sdxl");
    const made = await runCli(["model", "make-tiny", "--arch", "sdxl", "--out", model]);
    expect(made.code, made.stderr).toBe(0);
    const out = join(root, "out-sdxl");
    const result = await runCli(trainArgs(model, join(root, "train"), out, ["--max-train-steps", "2"]));
    expect(result.code, result.stderr).toBe(0);
    const header = await readSafetensorsHeader(join(out, "t.safetensors"));
    const names = Object.keys(header.tensors);
    expect(names).toContain("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight");
    expect(names.some((name) => name.startsWith("lora_te1_text_model_encoder_layers_0_"))).toBe(true);
    expect(names.some((name) => name.startsWith("lora_te2_text_model_encoder_layers_0_"))).toBe(true);
    expect(header.metadata?.["modelspec.architecture"]).toBe("stable-diffusion-xl-v1-base/lora");
  });
});
