import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeTinyCaptioner } from "../tagging/caption/testing/tiny-captioner.ts";
import { writeTinyTagger } from "../tagging/wd/testing/tiny-tagger.ts";
import { main } from "./main.ts";

let root: string;
let models: string;
let data: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-cli-tag-"));
  models = join(root, "models");
  data = join(root, "data");
  await writeTinyTagger(join(models, "wd-vit-tagger-v3"), { inputSize: 16 });
  await writeTinyCaptioner(join(models, "tiny-captioner"));
  await mkdir(data, { recursive: true });
  await sharp({ create: { width: 20, height: 20, channels: 3, background: "#ff0000" } })
    .png()
    .toFile(join(data, "red.png"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the CLI in-process; returns what it printed and the exit code it set. */
async function danlu(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  process.exitCode = undefined;
  try {
    await main(["node", "danlu", ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { out: out.join(""), err: err.join(""), code };
}

describe("danlu tag", () => {
  it("tags a folder by model name from --models-dir, caption first, with the chosen options", async () => {
    const run = await danlu(
      "tag",
      data,
      "--model",
      "wd-vit-tagger-v3",
      "--caption-model",
      join(models, "tiny-captioner"),
      "--models-dir",
      models,
      "--rating",
      "last",
      "--expand-characters",
      "--undesired",
      "long hair",
      "--replace",
      "red theme,red",
      "--threads",
      "1",
    );
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    expect(run.out).toContain("tagged 1 of 1 images");
    expect(run.out).toContain("wd-vit-tagger-v3: general >= 0.2614, character >= 0.85");
    expect(await readFile(join(data, "red.txt"), "utf8")).toBe(
      "a dark photo, red, hatsune miku, vocaloid, general\n",
    );
  });

  it("prints a JSON report", async () => {
    const run = await danlu(
      "tag",
      data,
      "--model",
      join(models, "wd-vit-tagger-v3"),
      "--json",
      "--threads",
      "1",
    );
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ images: 1, written: 1, failed: [] });
    expect(report.tagCounts["red theme"]).toBe(1);
  });

  it("says what to do when no model is given or the model is missing", async () => {
    const none = await danlu("tag", data);
    expect(none.code).toBe(1);
    expect(none.err).toContain("error: nothing to tag with");
    const missing = await danlu("tag", data, "--model", "wd-swinv2-tagger-v3", "--models-dir", models);
    expect(missing.err).toContain("hint: run: danlu models pull wd-swinv2-tagger-v3");
  });

  it("rejects a malformed option value before doing any work", async () => {
    const run = await danlu("tag", data, "--model", "x", "--rating", "middle");
    expect(run.code).not.toBe(0);
    expect(run.err).toContain("expected one of none, first, last");
  });
});

describe("danlu models list", () => {
  it("shows installed and known models", async () => {
    const run = await danlu("models", "list", "--dir", models);
    expect(run.out).toMatch(/wd-vit-tagger-v3 +tagger +local/);
    expect(run.out).toMatch(/tiny-captioner +captioner +local/);
    expect(run.out).toMatch(/\* wd-vit-tagger-v3 +tagger +Apache-2.0/);
    expect(run.out).toMatch(/ {2}florence-2-base-ft +captioner +MIT/);
  });
});
