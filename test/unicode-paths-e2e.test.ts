// Models, datasets and outputs where users keep them: folders and file names with spaces and Chinese
// letters (Windows user folders like "C:\Users\张三\我的 模型"). A tiny SD1.5 as .safetensors and as .ckpt,
// one training epoch from the .ckpt, one image from the .safetensors with the LoRA just trained.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { engineLauncher, REPO_ROOT } from "../src/engine/python.ts";
import { makeTinySd15, runCli } from "./cli.ts";

let root = "";
const models = () => join(root, "模型 文件");
const safetensors = () => join(models(), "我的 模型.safetensors");
const ckpt = () => join(models(), "旧 模型 (v1).ckpt");
const dataset = () => join(root, "训练 数据");
const output = () => join(root, "输出 文件夹");

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu 路径 "));
  mkdirSync(models());
  await makeTinySd15(safetensors());
  // the same weights as an old-style .ckpt (a pickled {"state_dict": ...}), as the engine's tests make one
  const launcher = engineLauncher();
  const script =
    "import sys, torch; from safetensors.torch import load_file; " +
    "torch.save({'state_dict': load_file(sys.argv[1])}, sys.argv[2])";
  const saved = spawnSync(launcher.executable, ["-c", script, safetensors(), ckpt()], { encoding: "utf8" });
  expect(saved.status, saved.stderr).toBe(0);
  const folder = join(dataset(), "2_dln 人像");
  mkdirSync(folder, { recursive: true });
  for (const [photo, name] of [
    ["astronaut.png", "宇航员 照片.png"],
    ["chelsea.png", "猫 的 照片.png"],
  ] as const) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, name));
    writeFileSync(join(folder, name.replace(".png", ".txt")), "dlnsample, 照片\n");
  }
}, 300_000);

describe("paths with spaces and Chinese letters", () => {
  it("model info reads the .ckpt", async () => {
    const info = await runCli(["model", "info", ckpt(), "--json"]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ path: ckpt(), format: "ckpt", arch: "sd15" });
  });

  it("trains from the .ckpt and generates with the LoRA from the .safetensors", async () => {
    const trained = await runCli([
      "train",
      ...["--pretrained-model-name-or-path", ckpt(), "--train-data-dir", dataset()],
      ...["--output-dir", output(), "--output-name", "丹炉_lora", "--resolution", "64"],
      ...["--min-bucket-reso", "64", "--max-bucket-reso", "64", "--network-dim", "4", "--network-alpha", "2"],
      ...["--train-batch-size", "2", "--max-train-epochs", "1", "--learning-rate", "1e-3", "--device", "cpu"],
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(readdirSync(output())).toContain("丹炉_lora.safetensors");

    const images = join(root, "生成 图片");
    const generated = await runCli([
      "gen",
      ...["--model", safetensors(), "--lora-dir", output(), "--out", images],
      ...["--prompt", "dlnsample, 照片 <lora:丹炉_lora:0.8>", "--width", "64", "--height", "64"],
      ...["--steps", "2", "--seed", "5", "--device", "cpu"],
    ]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stderr).toMatch(/LoRA 丹炉_lora \(lora\): \d+ modules matched/);
    const image = join(images, "00000-5.png");
    expect(generated.stdout.trim()).toBe(image);
    expect(existsSync(image)).toBe(true);
  });
});
