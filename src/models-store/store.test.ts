import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadWdTagger } from "../tagging/wd/session.ts";
import { writeTinyTagger } from "../tagging/wd/testing/tiny-tagger.ts";
import { findKnownModel, KNOWN_MODELS } from "./registry.ts";
import { listInstalled, modelsDir, pullModel, resolveModel } from "./store.ts";
import { startFileServer, type FileServer } from "./testing/file-server.ts";

let hub: FileServer;
let dir: string;

beforeAll(async () => {
  // The hub serves a tiny tagger where wd-convnext-tagger-v3 (no published checksum) would be.
  const source = await mkdtemp(join(tmpdir(), "danlu-hub-"));
  await writeTinyTagger(source, { inputSize: 8 });
  const base = "/SmilingWolf/wd-convnext-tagger-v3/resolve/main";
  hub = await startFileServer({
    files: {
      [`${base}/model.onnx`]: await readFile(join(source, "model.onnx")),
      [`${base}/selected_tags.csv`]: await readFile(join(source, "selected_tags.csv")),
      // Not the published v3 tag list: the registry's size and sha256 must reject it.
      "/SmilingWolf/wd-swinv2-tagger-v3/resolve/627aef95638667ddcaa3ac8ae625e88ea5b02f51/model.onnx":
        new Uint8Array(9),
    },
  });
  await rm(source, { recursive: true, force: true });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-models-"));
  hub.requests.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pullModel", () => {
  it("downloads every file of a known model, records sha256, and the tagger loads", async () => {
    const files: string[] = [];
    const record = await pullModel("wd-convnext-tagger-v3", {
      dir,
      hub: hub.url,
      onFile: (path) => files.push(path),
    });
    expect(files).toEqual(["model.onnx", "selected_tags.csv"]);
    expect(record).toMatchObject({ name: "wd-convnext-tagger-v3", kind: "tagger", revision: "main" });
    expect(record.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.checked === false)).toBe(true);
    const saved = JSON.parse(await readFile(join(dir, "wd-convnext-tagger-v3", "danlu-model.json"), "utf8"));
    expect(saved.files).toEqual(record.files);
    const tagger = await loadWdTagger(join(dir, "wd-convnext-tagger-v3"), "wd-convnext-tagger-v3", {
      threads: 1,
    });
    expect(tagger.inputSize).toBe(8);
    await tagger.dispose();
  });

  it("keeps files already pulled instead of downloading them again", async () => {
    await pullModel("wd-convnext-tagger-v3", { dir, hub: hub.url });
    const before = hub.requests.length;
    await pullModel("wd-convnext-tagger-v3", { dir, hub: hub.url });
    expect(hub.requests.length).toBe(before);
    await pullModel("wd-convnext-tagger-v3", { dir, hub: hub.url, force: true });
    expect(hub.requests.length).toBe(before + 2);
  });

  it("refuses a file that does not match the registry's size or checksum", async () => {
    const attempt = pullModel("wd-swinv2-tagger-v3", { dir, hub: hub.url });
    await expect(attempt).rejects.toThrow(/9 bytes instead of 467460978; the file was moved aside/);
  });

  it("names the known models when given an unknown one", async () => {
    await expect(pullModel("wd-nonsense", { dir })).rejects.toThrow(/is not a model danlu knows/);
  });
});

describe("listInstalled and resolveModel", () => {
  it("lists pulled, hand-placed and unfinished model folders", async () => {
    await pullModel("wd-convnext-tagger-v3", { dir, hub: hub.url });
    await writeTinyTagger(join(dir, "my-tagger"));
    await mkdir(join(dir, "wd-vit-tagger-v3"));
    await writeFile(join(dir, "wd-vit-tagger-v3", "model.onnx.part"), "half");
    const installed = await listInstalled(dir);
    expect(installed.map((m) => [m.name, m.kind, m.state])).toEqual([
      ["my-tagger", "tagger", "local"],
      ["wd-convnext-tagger-v3", "tagger", "pulled"],
      ["wd-vit-tagger-v3", "tagger", "partial"],
    ]);
  });

  it("resolves a name in the model folder, a path, and explains what is missing", async () => {
    await pullModel("wd-convnext-tagger-v3", { dir, hub: hub.url });
    const byName = await resolveModel("wd-convnext-tagger-v3", "tagger", dir);
    expect(byName).toEqual({ name: "wd-convnext-tagger-v3", folder: join(dir, "wd-convnext-tagger-v3") });
    const byPath = await resolveModel(join(dir, "wd-convnext-tagger-v3", "model.onnx"), "tagger", dir);
    expect(byPath.folder).toBe(join(dir, "wd-convnext-tagger-v3"));
    await expect(resolveModel("wd-vit-tagger-v3", "tagger", dir)).rejects.toThrow(/is not installed/);
    await expect(resolveModel("wd-vit-tagger-v3", "captioner", dir)).rejects.toThrow(/is a tagger/);
    await expect(resolveModel("nothing-here", "tagger", dir)).rejects.toThrow(/no model folder/);
  });

  it("takes the folder from --dir, then $DANLU_MODELS_DIR, then ~/.cache/danlu/models", () => {
    const saved = process.env.DANLU_MODELS_DIR;
    process.env.DANLU_MODELS_DIR = "/srv/models";
    expect(modelsDir("/x/y")).toBe("/x/y");
    expect(modelsDir()).toBe("/srv/models");
    delete process.env.DANLU_MODELS_DIR;
    expect(modelsDir()).toMatch(/\.cache\/danlu\/models$/);
    if (saved !== undefined) process.env.DANLU_MODELS_DIR = saved;
  });
});

describe("registry", () => {
  it("has well-formed entries: unique names, hex sha256, paths without ..", () => {
    expect(new Set(KNOWN_MODELS.map((m) => m.name)).size).toBe(KNOWN_MODELS.length);
    for (const model of KNOWN_MODELS) {
      for (const file of model.files) {
        expect(file.path).not.toMatch(/(^|\/)\.\.(\/|$)|^\//);
        if (file.sha256) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    expect(findKnownModel("florence-2-base-ft")?.kind).toBe("captioner");
  });
});
