// `danlu grid` and `danlu eval` end to end on one short training run of a tiny SD1.5 model (64 px,
// 2 epochs): the real CLI, the real engine, the drawn grid and the report.
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
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { layoutGrid } from "../src/evaluate/geometry.ts";
import { runCli } from "./cli.ts";

let root = "";
const out = () => join(root, "out");

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-eval-"));
  const model = join(root, "sd15.safetensors");
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--single-file", "--out", model]);
  expect(made.code, made.stderr).toBe(0);
  const folder = join(root, "train", "2_dln");
  mkdirSync(folder, { recursive: true });
  for (const photo of ["astronaut.png", "camera.png", "chelsea.png"]) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, photo));
    writeFileSync(join(folder, photo.replace(".png", ".txt")), `dln, ${photo.split(".")[0]}, photo\n`);
  }
  writeFileSync(join(root, "prompts.txt"), "dln, a photo --w 64 --h 64 --d 3 --s 2\n");
  const trained = await runCli([
    "train",
    ...["--pretrained-model-name-or-path", model, "--train-data-dir", join(root, "train")],
    ...["--output-dir", out(), "--output-name", "t", "--resolution", "64", "--min-bucket-reso", "64"],
    ...["--max-bucket-reso", "128", "--network-dim", "4", "--network-alpha", "2", "--train-batch-size", "2"],
    ...[
      "--device",
      "cpu",
      "--seed",
      "1",
      "--cache-latents",
      "--learning-rate",
      "1e-3",
      "--max-train-epochs",
      "2",
    ],
    ...["--save-every-n-epochs", "1", "--sample-prompts", join(root, "prompts.txt"), "--json"],
  ]);
  expect(trained.code, trained.stderr).toBe(0);
}, 300_000);

describe("danlu grid and danlu eval on a tiny run", () => {
  it("grid: one PNG with every cell, labelled, and each cell as its own file", async () => {
    const result = await runCli(["grid", out(), "--x", "epoch=base,1,2", "--y", "weight=0.5,1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { dir: string; grids: string[]; cells: { image: string }[] };
    expect(json.dir).toBe(join(out(), "grids", "grid-001"));
    expect(json.grids).toEqual([join(json.dir, "grid.png")]);
    expect(readdirSync(join(json.dir, "cells")).sort()).toEqual(
      ["y0-x0", "y0-x1", "y0-x2", "y1-x0", "y1-x1", "y1-x2"].map((c) => `cell-z0-${c}-3.png`),
    );
    const expected = layoutGrid({
      columns: ["base (no LoRA)", "epoch 1", "epoch 2"],
      rows: ["weight 0.5", "weight 1"],
      title: "run t — X: epoch · Y: weight",
      cellWidth: 128,
      cellHeight: 128,
    });
    const meta = await sharp(json.grids[0]).metadata();
    expect([meta.width, meta.height]).toEqual([expected.width, expected.height]);
    // the cell carries A1111 parameters naming the epoch's LoRA at the cell's weight
    const cell = readFileSync(json.cells[4]!.image).toString("latin1");
    expect(cell).toMatch(/dln, a photo/);
    expect(cell).toMatch(/Lora hashes: "t-000001: [0-9a-f]{12}"/);
  }, 300_000);

  it("eval: scores every epoch, recommends one honestly, writes report.md and a self-contained report.html", async () => {
    const result = await runCli(["eval", out(), "--seeds", "1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const findings = JSON.parse(result.stdout) as {
      scores: { epoch: number; drift: number | null; meanLoss: number | null; identity: unknown }[];
      recommendation: { epoch: number | null; reason: string; caveats: string[] };
      faceNote: string;
      report: { markdown: string; html: string };
    };
    expect(findings.scores.map((s) => s.epoch)).toEqual([1, 2]);
    for (const s of findings.scores) {
      expect(s.drift).toBeGreaterThanOrEqual(0);
      expect(s.meanLoss).toBeGreaterThan(0);
      expect(s.identity).not.toBeNull(); // 2 of 3 training photos have a face: a face LoRA
    }
    expect(findings.faceNote).toMatch(/^2 of 3 training images have a face/);
    expect(findings.recommendation.caveats.join(" ")).toMatch(/tiny test model/);
    expect(findings.recommendation.reason).not.toBe("");
    const md = readFileSync(findings.report.markdown, "utf8");
    expect(md).toMatch(/## Recommendation: /);
    expect(md).toMatch(/\| 1( ★)? \|/);
    expect(md).toMatch(/\| 2( ★)? \|/);
    const html = readFileSync(findings.report.html, "utf8");
    expect(html).not.toMatch(/src="(?!data:)/);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(existsSync(join(out(), "evals", "eval-001", "grid.png"))).toBe(true);
  }, 400_000);
});
