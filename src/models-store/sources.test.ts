import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { loadWdTagger } from "../tagging/wd/session.ts";
import { addModelFiles } from "./add.ts";
import type { KnownModel } from "./registry.ts";
import { listInstalled, pullModel, resolveModel } from "./store.ts";
import { startFileServer, type FileServer } from "./testing/file-server.ts";

// A test catalogue: one model whose two files have a known size and sha256.
const onnx = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256);
const tags = new TextEncoder().encode("tag_id,name,category,count\n1,solo,0,10\n");
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const model: KnownModel = {
  name: "tiny-tagger",
  kind: "tagger",
  repo: "Someone/tiny-tagger",
  modelscope: "mirror/tiny-tagger",
  revision: "abc123",
  licence: "MIT",
  about: "test",
  files: [
    { path: "model.onnx", size: onnx.length, sha256: sha(onnx) },
    { path: "selected_tags.csv", size: tags.length, sha256: sha(tags) },
  ],
};
const notOnModelScope: KnownModel = { ...model, name: "hub-only", repo: "Someone/hub-only" };
delete notOnModelScope.modelscope;
const catalogue = [model, notOnModelScope];

let mirror: FileServer;
let modelscope: FileServer;
let closedUrl: string;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  mirror = await startFileServer({
    files: {
      "/Someone/tiny-tagger/resolve/abc123/model.onnx": onnx,
      "/Someone/tiny-tagger/resolve/abc123/selected_tags.csv": tags,
    },
  });
  modelscope = await startFileServer({
    files: {
      "/models/mirror/tiny-tagger/resolve/master/model.onnx": onnx,
      "/models/mirror/tiny-tagger/resolve/master/selected_tags.csv": tags,
    },
  });
  const closed = createServer();
  await new Promise<void>((ready) => closed.listen(0, "127.0.0.1", ready));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((done) => closed.close(done));
});
afterAll(async () => {
  await mirror.close();
  await modelscope.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-sources-"));
  for (const key of ["DANLU_HUB_URL", "HF_ENDPOINT", "MODELSCOPE_ENDPOINT", "DANLU_MODEL_SOURCE"])
    delete process.env[key];
});
afterEach(async () => {
  process.env = { ...saved };
  await rm(dir, { recursive: true, force: true });
});

describe("pull from where the user can reach", () => {
  it("honours HF_ENDPOINT, a mirror with the hub's URL layout", async () => {
    process.env.HF_ENDPOINT = `${mirror.url}/`;
    const record = await pullModel("tiny-tagger", { dir, catalogue });
    expect(record.files.map((f) => [f.path, f.checked, f.from])).toEqual([
      ["model.onnx", true, `${mirror.url}/Someone/tiny-tagger/resolve/abc123/model.onnx`],
      ["selected_tags.csv", true, `${mirror.url}/Someone/tiny-tagger/resolve/abc123/selected_tags.csv`],
    ]);
    expect(Buffer.compare(await readFile(join(dir, "tiny-tagger", "model.onnx")), onnx)).toBe(0);
  });

  it("pulls from ModelScope with --source modelscope (MODELSCOPE_ENDPOINT)", async () => {
    process.env.MODELSCOPE_ENDPOINT = modelscope.url;
    const record = await pullModel("tiny-tagger", { dir, catalogue, source: "modelscope" });
    expect(record.files[0]?.from).toBe(
      `${modelscope.url}/models/mirror/tiny-tagger/resolve/master/model.onnx`,
    );
    await expect(pullModel("hub-only", { dir, catalogue, source: "modelscope" })).rejects.toThrow(
      /hub-only is not published on ModelScope as far as danlu knows/,
    );
  });

  it("falls back to ModelScope when the hub cannot be reached and DANLU_MODEL_SOURCE=auto", async () => {
    process.env.HF_ENDPOINT = closedUrl;
    process.env.MODELSCOPE_ENDPOINT = modelscope.url;
    process.env.DANLU_MODEL_SOURCE = "auto";
    const record = await pullModel("tiny-tagger", { dir, catalogue });
    expect(record.files.every((f) => f.from?.startsWith(modelscope.url))).toBe(true);
  });

  it("names the three ways round an unreachable hub, and no .part that is not there", async () => {
    process.env.HF_ENDPOINT = closedUrl;
    const error = (await pullModel("tiny-tagger", { dir, catalogue }).catch((e: unknown) => e)) as DanluError;
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toMatch(/^could not reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\) to download /);
    expect(error.hint).toBe(
      [
        "if huggingface.co cannot be reached, any of:",
        "  a mirror of the hub: HF_ENDPOINT=https://hf-mirror.com danlu models pull tiny-tagger" +
          ` --dir ${dir}`,
        "  ModelScope: danlu models pull tiny-tagger --source modelscope" + ` --dir ${dir}`,
        "  by hand: download https://huggingface.co/Someone/tiny-tagger/resolve/abc123/model.onnx " +
          "https://huggingface.co/Someone/tiny-tagger/resolve/abc123/selected_tags.csv " +
          "(or the same names from https://www.modelscope.cn/models/mirror/tiny-tagger) into one folder, " +
          `then: danlu models add tiny-tagger FOLDER --dir ${dir}`,
      ].join("\n"),
    );
    expect(error.hint).not.toMatch(/\.part/);
    const hubOnly = (await pullModel("hub-only", { dir, catalogue }).catch((e: unknown) => e)) as DanluError;
    expect(hubOnly.hint).toMatch(/ModelScope: hub-only is not published there as far as danlu knows/);
  });

  it("a missing model (danlu tag) is told the ways round too, not only to pull again", async () => {
    const error = (await resolveModel("wd-vit-tagger-v3", "tagger", dir).catch(
      (e: unknown) => e,
    )) as DanluError;
    expect(error.hint).toMatch(
      /^run: danlu models pull wd-vit-tagger-v3 --dir .*\nif huggingface\.co cannot/,
    );
    expect(error.hint).toMatch(/HF_ENDPOINT=https:\/\/hf-mirror\.com/);
    expect(error.hint).toMatch(/danlu models pull wd-vit-tagger-v3 --source modelscope/);
    expect(error.hint).toMatch(/danlu models add wd-vit-tagger-v3 FOLDER/);
  });
});

describe("danlu tag on a folder without the model's files", () => {
  it("names the ways round an unreachable hub, not the pull alone", async () => {
    const error = (await loadWdTagger(dir, "empty").catch((e: unknown) => e)) as DanluError;
    expect(error.message).toMatch(/has no model\.onnx/);
    expect(error.hint).toContain(
      "danlu models pull wd-vit-tagger-v3; if huggingface.co cannot be reached: HF_ENDPOINT=https://hf-mirror.com " +
        "danlu models pull wd-vit-tagger-v3, or --source modelscope, or download the files by hand and run " +
        "danlu models add wd-vit-tagger-v3 FOLDER",
    );
  });
});

describe("danlu models add", () => {
  it("installs a folder of files downloaded by hand, checked, and the model is usable", async () => {
    const downloads = join(dir, "downloads");
    await mkdir(downloads);
    await writeFile(join(downloads, "model.onnx"), onnx);
    await writeFile(join(downloads, "selected_tags.csv"), tags);
    const models = join(dir, "models");
    const { record, missing } = await addModelFiles("tiny-tagger", downloads, { dir: models, catalogue });
    expect(missing).toEqual([]);
    expect(record.files.map((f) => [f.path, f.checked, f.from])).toEqual([
      ["model.onnx", true, join(downloads, "model.onnx")],
      ["selected_tags.csv", true, join(downloads, "selected_tags.csv")],
    ]);
    expect(Buffer.compare(await readFile(join(models, "tiny-tagger", "selected_tags.csv")), tags)).toBe(0);
  });

  it("adds one file at a time and says what is still missing", async () => {
    const file = join(dir, "model.onnx");
    await writeFile(file, onnx);
    const models = join(dir, "models");
    const first = await addModelFiles("tiny-tagger", file, { dir: models, catalogue });
    expect(first.missing).toEqual([
      {
        path: "selected_tags.csv",
        url: "https://huggingface.co/Someone/tiny-tagger/resolve/abc123/selected_tags.csv",
      },
    ]);
    await writeFile(join(dir, "selected_tags.csv"), tags);
    const second = await addModelFiles("tiny-tagger", join(dir, "selected_tags.csv"), {
      dir: models,
      catalogue,
    });
    expect(second.missing).toEqual([]);
    expect(second.record.files.map((f) => f.path)).toEqual(["model.onnx", "selected_tags.csv"]);
    // A catalogue model with some files added is not usable yet: listed as partial, then installed.
    await addModelFiles("wd-convnext-tagger-v3", file, { dir: models });
    expect((await listInstalled(models)).map((m) => [m.name, m.state])).toContainEqual([
      "wd-convnext-tagger-v3",
      "partial",
    ]);
    await addModelFiles("wd-convnext-tagger-v3", join(dir, "selected_tags.csv"), { dir: models });
    expect((await listInstalled(models)).map((m) => [m.name, m.state])).toContainEqual([
      "wd-convnext-tagger-v3",
      "pulled",
    ]);
  });

  it("refuses a file of another size or sha256, naming the file and both values", async () => {
    const short = join(dir, "model.onnx");
    await writeFile(short, onnx.subarray(0, 100));
    await expect(addModelFiles("tiny-tagger", short, { dir, catalogue })).rejects.toThrow(
      `${short} is not tiny-tagger's model.onnx: 100 bytes, expected 5000 bytes`,
    );
    const changed = Uint8Array.from(onnx);
    changed[0] = 99;
    await writeFile(short, changed);
    await expect(addModelFiles("tiny-tagger", short, { dir, catalogue })).rejects.toThrow(
      `${short} is not tiny-tagger's model.onnx: sha256 ${sha(changed)}, expected ${sha(onnx)}`,
    );
    await expect(addModelFiles("tiny-tagger", join(dir, "x.bin"), { dir, catalogue })).rejects.toThrow(
      /x\.bin does not exist/,
    );
  });
});
