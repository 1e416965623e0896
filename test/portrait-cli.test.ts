// `danlu portrait` end to end through the real CLI and the real engine on a tiny SD1.5 model: a customer's
// photos with one intruder, one group photo and one blurry photo; the report names all three as dropped
// with the right reasons, and every chosen style has N ranked portraits with scores.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readSafetensorsHeader } from "../src/lora/index.ts";
import type { PortraitResult } from "../src/portrait/pipeline.ts";
import { SELFIE_FILES, writeSelfies } from "../src/portrait/testing/selfies.ts";
import { makeTinySd15, runCli } from "./cli.ts";

let root = "";
const model = () => join(root, "sd15.safetensors");
/** The portrait preset on the tiny model: 64 px, a few steps, on the CPU. */
const TINY = `resolution = 64
min_bucket_reso = 64
max_bucket_reso = 128
network_dim = 4
network_alpha = 2
train_batch_size = 2
max_train_steps = 4
mixed_precision = "no"
save_precision = "float"
learning_rate = 1e-3
unet_lr = 1e-3
device = "cpu"
`;
const QUICK = ["--size", "64", "--gen-steps", "2", "--device", "cpu", "--config"];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-portrait-"));
  await makeTinySd15(model());
  await writeSelfies(join(root, "selfies"));
  writeFileSync(join(root, "tiny.toml"), TINY);
}, 120_000);

describe("danlu portrait", () => {
  it("drops the intruder, the group photo and the blurry one, trains, and ranks N portraits per style", async () => {
    const out = join(root, "out");
    const run = await runCli(
      [
        "portrait",
        join(root, "selfies"),
        "--model",
        model(),
        "--out",
        out,
        "--styles",
        "id_photo,hanfu",
      ].concat(["--count", "2", "--candidates", "3", ...QUICK, join(root, "tiny.toml"), "--json"]),
    );
    expect(run.code, run.stderr).toBe(0);
    // face detailing is on for portrait styles; the tiny model's candidates are noise, so it has nothing to do
    expect(run.stderr).toMatch(/face detail: id_photo-\d+\.png: no face found/);
    const result = JSON.parse(run.stdout) as PortraitResult;
    const reasons = Object.fromEntries(result.photos.dropped.map((d) => [d.file, d.reason]));
    expect(reasons).toEqual({
      [SELFIE_FILES.blurry]: "blurry",
      [SELFIE_FILES.group]: "several-faces",
      [SELFIE_FILES.intruder]: "other-person",
    });
    expect(result.photos.kept.map((k) => k.file).sort()).toEqual([...SELFIE_FILES.good].sort());
    for (const kept of result.photos.kept) expect(kept.identity).toBeGreaterThan(0.5);
    expect(result.training_images).toBe(12); // a face and an upper-body crop of each kept photo

    expect(result.styles.map((s) => s.name)).toEqual(["id_photo", "hanfu"]);
    for (const style of result.styles) {
      expect(style.prompt).toContain("dlperson person");
      expect(style.candidates).toHaveLength(3);
      expect(style.portraits).toHaveLength(2);
      for (const portrait of style.portraits) {
        expect(existsSync(join(out, portrait.file))).toBe(true);
        expect(portrait.score).toBeGreaterThanOrEqual(0);
        expect(portrait.gate).toBeTypeOf("string");
      }
      const scores = style.candidates.map((c) => c.score);
      expect(scores.filter((_, i) => style.candidates[i]!.gate === style.candidates[0]!.gate)).toEqual(
        [...scores.filter((_, i) => style.candidates[i]!.gate === style.candidates[0]!.gate)].sort(
          (a, b) => b - a,
        ),
      );
    }
    // every stage timed
    for (const stage of ["import", "select", "prepare", "train", "generate", "rank", "report", "total"]) {
      expect(result.seconds[stage as keyof PortraitResult["seconds"]]).toBeGreaterThanOrEqual(0);
    }
    // the LoRA is a kohya LoRA file; the trigger is in its metadata
    const header = await readSafetensorsHeader(join(out, result.lora));
    expect(Object.keys(header.tensors).some((key) => key.startsWith("lora_unet_"))).toBe(true);
    expect(header.metadata?.["modelspec.trigger_phrase"]).toBe("dlperson");
    // the report page names every dropped photo with its reason; result.json is the same result
    const report = readFileSync(join(out, "report.html"), "utf8");
    for (const file of [SELFIE_FILES.blurry, SELFIE_FILES.group, SELFIE_FILES.intruder])
      expect(report).toContain(file);
    expect(report).toContain("somebody else");
    expect(report).toContain("group photo");
    expect(JSON.parse(readFileSync(join(out, "result.json"), "utf8"))).toEqual(result);
    // the captions: trigger and class first
    const caption = readFileSync(join(out, "work", "train", "10_dlperson", "me-1.txt"), "utf8");
    expect(caption.startsWith("dlperson, person")).toBe(true);
  }, 600_000);

  it("says how many more photos it needs when too few are good", async () => {
    const few = join(root, "few");
    mkdirSync(few, { recursive: true });
    for (const file of [SELFIE_FILES.good[0], SELFIE_FILES.good[2], SELFIE_FILES.intruder]) {
      writeFileSync(join(few, file), readFileSync(join(root, "selfies", file)));
    }
    const run = await runCli([
      "portrait",
      few,
      "--model",
      model(),
      "--out",
      join(root, "few-out"),
      ...QUICK,
      join(root, "tiny.toml"),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("only 2 good photos of one person; the portrait LoRA needs at least 5");
    expect(run.stderr).toContain(`${SELFIE_FILES.intruder}: somebody else`);
    expect(run.stderr).toContain("add 3 or more photos of the same person");
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);

  it("refuses a broken style template by file and key before any work", async () => {
    const styles = join(root, "my-styles");
    mkdirSync(styles, { recursive: true });
    writeFileSync(join(styles, "studio.toml"), 'prompt = "photo of {trigger}"\nstpes = 20\n');
    const out = join(root, "broken-out");
    const run = await runCli([
      "portrait",
      join(root, "selfies"),
      "--model",
      model(),
      "--out",
      out,
      "--styles-dir",
      styles,
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("studio.toml");
    expect(run.stderr).toContain("stpes");
    expect(existsSync(join(out, "photos"))).toBe(false);
  }, 60_000);
});
