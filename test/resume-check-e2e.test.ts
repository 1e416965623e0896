// The resume check through the real CLI and engine on the tiny SD1.5 model: a state records its run,
// a changed setting is refused before the engine starts, and more epochs on the same data continue the run
// with the losses of its first epochs unchanged.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { makeTinySd15, runCli } from "./cli.ts";

const PHOTOS = ["astronaut.png", "camera.png", "coffee.png"];
let root = "";

function trainArgs(out: string, extra: string[] = []): string[] {
  return [
    "train",
    ...[
      "--pretrained-model-name-or-path",
      join(root, "sd15.safetensors"),
      "--train-data-dir",
      join(root, "train"),
    ],
    ...["--output-dir", out, "--output-name", "t", "--resolution", "64"],
    ...["--min-bucket-reso", "64", "--max-bucket-reso", "128", "--network-dim", "4", "--network-alpha", "2"],
    ...["--train-batch-size", "2", "--device", "cpu", "--seed", "1", "--learning-rate", "1e-3"],
    ...["--save-state", "--save-every-n-epochs", "1", "--json"],
    ...extra,
  ];
}

function lossRows(out: string): string[] {
  const rows = readFileSync(join(out, "logs", "t", "loss.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1);
  return rows.map((row) => row.split(",").slice(0, 3).join(","));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-resume-e2e-"));
  await makeTinySd15(join(root, "sd15.safetensors"));
  const folder = join(root, "train", "2_dlnsample");
  mkdirSync(folder, { recursive: true });
  for (const photo of PHOTOS) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, photo));
    writeFileSync(join(folder, photo.replace(/\.\w+$/u, ".txt")), `dlnsample, ${photo.split(".")[0]}\n`);
  }
});

describe("danlu train --resume checks the run (tiny SD1.5)", () => {
  it("refuses a changed learning rate before the engine starts, and continues with more epochs", async () => {
    const out = join(root, "out");
    const first = await runCli(trainArgs(out, ["--max-train-epochs", "2"]));
    expect(first.code, first.stderr).toBe(0);
    const state = join(out, "t-000001-state");
    const saved = JSON.parse(readFileSync(join(state, "train_state.json"), "utf8")) as {
      run: { version: number; settings: Record<string, unknown>; length: { epochs: number } };
    };
    expect([saved.run.version, saved.run.settings.learning_rate, saved.run.length.epochs]).toEqual([
      1, 0.001, 2,
    ]);
    const straight = lossRows(out);

    const refused = await runCli(
      trainArgs(out, ["--max-train-epochs", "2", "--learning-rate", "5e-4", "--resume", state]),
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(""); // no engine event: refused before it started
    expect(refused.stderr).toContain(`error: the state in ${state} was saved by a different run`);
    expect(refused.stderr).toContain("changed (saved -> now):\n  learning_rate: 0.001 -> 0.0005");
    expect(refused.stderr).toContain(
      "hint: start a new output folder (without --resume), or put the old values back: learning_rate = 0.001",
    );

    const longer = await runCli(trainArgs(out, ["--max-train-epochs", "3", "--resume", state]));
    expect(longer.code, longer.stderr).toBe(0);
    const perEpoch = straight.length / 2;
    expect(longer.stderr).toContain(
      `continuing: 1 more epoch on the same data (epochs 3-3, steps ${2 * perEpoch + 1}-${3 * perEpoch}; ` +
        `the saved run planned 2 epochs, ${2 * perEpoch} steps)`,
    );
    const rows = lossRows(out);
    expect(rows.length).toBe(3 * perEpoch);
    expect(rows.slice(0, 2 * perEpoch)).toEqual(straight); // the same batches: the first two epochs reproduce
  });
});
