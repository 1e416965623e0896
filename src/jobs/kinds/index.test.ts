import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DanluError } from "../../errors.ts";
import { JOB_KINDS, jobKind } from "./index.ts";
import { KindHarness } from "./test-support.ts";
import { latestState, PATH_KEYS } from "./train.ts";

async function errorOf(promise: Promise<unknown>): Promise<DanluError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DanluError);
  return error as DanluError;
}

describe("JOB_KINDS", () => {
  it("has one kind per CLI operation, each named as it is registered", () => {
    expect(Object.keys(JOB_KINDS).sort()).toEqual(
      [
        "data-check",
        "data-crop",
        "data-import",
        "data-layout",
        "eval",
        "gen",
        "grid",
        "lora-bake",
        "lora-convert",
        "lora-extract",
        "lora-info",
        "lora-merge",
        "lora-resize",
        "portrait",
        "tag",
        "train",
      ].sort(),
    );
    for (const [name, kind] of Object.entries(JOB_KINDS)) expect(kind.name).toBe(name);
  });

  it("gives every param a description (the OpenAPI docs) and refuses unknown keys", () => {
    for (const kind of Object.values(JOB_KINDS)) {
      const params = kind.params as unknown as z.ZodObject;
      expect(params).toBeInstanceOf(z.ZodObject);
      for (const [key, field] of Object.entries(params.shape)) {
        expect(field.description, `${kind.name}.${key}`).toMatch(/\w/);
      }
      expect(kind.summary, kind.name).toMatch(/\(danlu [a-z -]+\)$/);
      const unknown = kind.params.safeParse({ no_such_key: 1 });
      expect(unknown.success).toBe(false);
      expect(JSON.stringify(unknown.error?.issues)).toContain("no_such_key");
    }
  });

  it("jobKind names the kinds when the name is unknown", () => {
    expect(jobKind("train").name).toBe("train");
    let error: unknown;
    try {
      jobKind("trian");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).code).toBe("UNKNOWN_KIND");
    expect((error as DanluError).hint).toContain("train, grid");
  });
});

describe("train params", () => {
  const base = { dataset: "set", model: "sd15.safetensors" };

  it("finds every path key of the schema", () => {
    expect([...PATH_KEYS].sort()).toEqual(
      [
        "network_weights",
        "output_dir",
        "pretrained_model_name_or_path",
        "reg_data_dir",
        "sample_prompts",
        "train_data_dir",
        "vae",
        "validation_data_dir",
      ].sort(),
    );
  });

  it("refuses path keys and unknown keys at validation, naming the key", () => {
    const parsed = JOB_KINDS.train!.params.safeParse({
      ...base,
      config: { output_dir: "/tmp/x", learing_rate: 1e-4, network_dim: 8, output_name: "../../x" },
    });
    expect(parsed.success).toBe(false);
    const messages = parsed.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^config\.output_dir: is a path; .*own folder/),
      expect.stringMatching(
        /^config\.learing_rate: unknown key learing_rate \(did you mean learning_rate\?\)/,
      ),
      expect.stringMatching(/^config\.output_name: '\.\.\/\.\.\/x' is not a valid file name stem/),
    ]);
    expect(JOB_KINDS.train!.params.safeParse({ ...base, config: { network_dim: 8 } }).success).toBe(true);
  });

  it("refuses a path key at run time with BAD_PARAMS, before touching the files", async () => {
    const harness = new KindHarness();
    const kind = jobKind("train");
    const ctx = { ...fakeContext(harness), runDir: harness.jobDir("j") };
    const error = await errorOf(kind.run({ ...base, config: { train_data_dir: "/etc" } }, ctx));
    expect(error.code).toBe("BAD_PARAMS");
    expect(error.message).toMatch(/^config\.train_data_dir: is a path/);
    expect(error.hint).toMatch(/`dataset`/);
  });
});

describe("param checks in run", () => {
  it("tag needs a model, layout needs reg_out with reg, names stay inside the data directory", async () => {
    const harness = new KindHarness();
    mkdirSync(harness.datasetDir("photos"), { recursive: true });
    expect((await errorOf(harness.run("tag", { dataset: "photos" }))).code).toBe("BAD_PARAMS");
    const layout = { concepts: [{ name: "a", dataset: "photos" }], out: "train" };
    const reg = { ...layout, reg: { class: "woman", dataset: "photos" } };
    expect((await errorOf(harness.run("data-layout", reg))).message).toMatch(/^reg_out: missing/);
    expect((await errorOf(harness.run("data-check", { dataset: "../photos" }))).code).toBe("BAD_NAME");
    const escape = { lora: { job: "job-1", file: "../../../../danlu.db" } };
    expect((await errorOf(harness.run("lora-info", escape))).code).toBe("NOT_FOUND");
  });
});

describe("latestState", () => {
  it("picks the state folder with the highest current_step of this output name", () => {
    const harness = new KindHarness();
    const dir = harness.jobDir("j");
    const state = (name: string, step: number) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(
        join(dir, name, "train_state.json"),
        JSON.stringify({ current_epoch: 1, current_step: step }),
      );
    };
    expect(latestState(dir, "t")).toBeNull();
    state("t-000001-state", 5);
    state("t-step00000007-state", 7);
    state("other-000002-state", 10);
    mkdirSync(join(dir, "t-000002-state")); // being written: no train_state.json yet
    expect(latestState(dir, "t")).toEqual({ dir: join(dir, "t-step00000007-state"), step: 7 });
  });
});

function fakeContext(harness: KindHarness) {
  return {
    userId: "u1",
    jobId: "j",
    attempt: 1,
    data: harness.data,
    signal: new AbortController().signal,
    paths: harness.paths,
    stage: () => {},
    progress: () => {},
    engineEvent: () => {},
    log: () => {},
  };
}

describe("gen params", () => {
  it("detail_faces is off (null) unless given, and takes ADetailer's defaults", () => {
    const params = jobKind("gen").params;
    const base = { model: "sd15.safetensors", prompt: "a portrait" };
    expect(params.parse(base)).toMatchObject({ detail_faces: null });
    expect(params.parse({ ...base, detail_faces: { denoising: 0.3 } })).toMatchObject({
      detail_faces: {
        prompt: "",
        confidence: 0.3,
        dilate_erode: 4,
        mask_blur: 4,
        denoising: 0.3,
        padding: 32,
      },
    });
    expect(params.safeParse({ ...base, detail_faces: { denoise: 0.3 } }).success).toBe(false);
  });
});
