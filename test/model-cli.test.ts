import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// End-to-end: the real CLI (`node bin/danlu.js model ...`) driving the real Python engine on tiny models.
const dir = mkdtempSync(join(tmpdir(), "danlu-model-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function danlu(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/danlu.js", "model", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON a successful run printed; a failed run's stderr becomes the test failure. */
function jsonOf(run: { code: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`danlu exited ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe("danlu model", () => {
  const single = join(dir, "tiny-sd15.safetensors");

  it("make-tiny writes a single-file SD1.5 model and info describes it", async () => {
    const made = await danlu("make-tiny", "--arch", "sd15", "--out", single, "--single-file");
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`wrote a tiny sd15 model (single file, seed 0): ${single}`);
    expect(made.stdout).toMatch(/1 file, [\d.]+ MB; random weights: it draws noise/);

    const info = await danlu("info", single);
    expect(info.stderr).toBe("");
    const lines = info.stdout.split("\n");
    expect(lines).toContain("architecture: SD1.x (sd15)");
    expect(lines).toContain("format:       single-file .safetensors");
    expect(lines).toContain("prediction:   epsilon (noise)");
    expect(info.stdout).toMatch(/^size: +[\d.]+ MB$/m);
    expect(info.stdout).toMatch(/^parameters: +[\d.]+[KM] \(.*unet.*\)$/m);

    const json = jsonOf(await danlu("info", single, "--json"));
    expect(json).toMatchObject({ arch: "sd15", format: "single_file", size_bytes: statSync(single).size });
  });

  it("make-tiny writes an SDXL diffusers folder (seeded) that info reads as SDXL", async () => {
    const folder = join(dir, "tiny-sdxl");
    const made = await danlu("make-tiny", "--arch", "sdxl", "--out", folder, "--seed", "3", "--json");
    const { outputs, data } = jsonOf(made) as { outputs: string[]; data: Record<string, unknown> };
    expect(outputs).toContain(join(folder, "model_index.json"));
    expect(outputs.some((path) => path.startsWith(join(folder, "text_encoder_2")))).toBe(true);
    expect(data).toMatchObject({ arch: "sdxl", seed: 3, single_file: false });

    const info = jsonOf(await danlu("info", folder, "--json"));
    expect(info).toMatchObject({ arch: "sdxl", format: "diffusers" });
  });

  it("says clearly what is wrong with a truncated checkpoint and with a file that is not one", async () => {
    const truncated = join(dir, "truncated.safetensors");
    const bytes = readFileSync(single);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const cut = await danlu("info", truncated);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/^error: .*truncated/im);
    expect(cut.stderr).toMatch(/^hint: /m);
    expect(cut.stderr).not.toMatch(/Traceback|internal error/);

    const text = join(dir, "notes.safetensors");
    writeFileSync(text, "these are my notes, not a model\n");
    const notModel = await danlu("info", text);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr).toMatch(/^error: .*notes\.safetensors/m);
    expect(notModel.stderr).not.toMatch(/Traceback|internal error/);
  });

  it("checks its arguments before starting the engine", async () => {
    const bad = await danlu("make-tiny", "--arch", "sd15", "--out", join(dir, "x"), "--single-file");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("hint: Use --out");
    const missing = await danlu("info", join(dir, "nope.safetensors"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("No such file or folder");
  });
});
