import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { loadTrainConfigFile } from "./load-file.ts";
import { addTrainConfigOptions, configFromOptions } from "./options.ts";
import { resolveTrainConfig } from "./resolve.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function toml(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function errorOf(promise: Promise<unknown>): Promise<DanluError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DanluError);
  return error as DanluError;
}

describe("loadTrainConfigFile", () => {
  it("reads flat keys into checked values", async () => {
    const path = await toml("ok.toml", 'network_dim = 64\nresolution = "768,512"\ncache_latents = true\n');
    expect(await loadTrainConfigFile(path)).toEqual({
      network_dim: 64,
      resolution: [768, 512],
      cache_latents: true,
    });
  });

  it("reads relative paths from the file's folder", async () => {
    const path = await toml(
      "paths.toml",
      'train_data_dir = "img"\noutput_dir = "/abs/out"\noutput_name = "rel"\n',
    );
    expect(await loadTrainConfigFile(path)).toEqual({
      train_data_dir: join(dir, "img"),
      output_dir: "/abs/out",
      output_name: "rel", // a name, not a path
    });
  });

  it("names the file, line and nearest key for an unknown key", async () => {
    const path = await toml("typo.toml", "network_dim = 8\n\nlearing_rate = 1e-4\n");
    const error = await errorOf(loadTrainConfigFile(path));
    expect(error.message).toBe(`${path} line 3: unknown key learing_rate (did you mean learning_rate?)`);
  });

  it("explains sd-scripts keys that danlu has no use for", async () => {
    const path = await toml("xformers.toml", "xformers = true\n");
    const error = await errorOf(loadTrainConfigFile(path));
    expect(error.message).toBe(
      `${path} line 1: xformers is an sd-scripts setting danlu has no use for (danlu always uses PyTorch SDPA attention)`,
    );
  });

  it("names the key and expected type for a wrong type, and lists every problem", async () => {
    const path = await toml("types.toml", 'network_dim = "big"\nflip_aug = 1\nseed = 3\n');
    const error = await errorOf(loadTrainConfigFile(path));
    expect(error.message).toContain("2 problems");
    expect(error.message).toContain(`${path} line 1: network_dim must be int >= 1 (got "big")`);
    expect(error.message).toContain(`${path} line 2: flip_aug must be bool (got 1)`);
  });

  it("points sd-scripts files with sections at --kohya-config", async () => {
    const path = await toml("sections.toml", "[model_arguments]\nv2 = false\n");
    const error = await errorOf(loadTrainConfigFile(path));
    expect(error.message).toContain("line 1: [model_arguments] tables are not part of a danlu config");
    expect(error.hint).toContain("--kohya-config");
  });

  it("reports TOML syntax errors with line and a missing file by name", async () => {
    const bad = await toml("syntax.toml", "network_dim = 4\nseed = = 2\n");
    expect((await errorOf(loadTrainConfigFile(bad))).message).toMatch(/syntax\.toml line 2 column \d+/);
    const missing = join(dir, "nope.toml");
    expect((await errorOf(loadTrainConfigFile(missing))).message).toContain(`${missing}: no such file`);
  });
});

describe("resolveTrainConfig", () => {
  const required = { pretrained_model_name_or_path: "/m", train_data_dir: "/d", output_dir: "/o" };

  it("lets later layers win and keeps defaults for the rest", () => {
    const config = resolveTrainConfig([required, { network_dim: 8, seed: 1 }, { network_dim: 16 }]);
    expect(config.network_dim).toBe(16);
    expect(config.seed).toBe(1);
    expect(config.network_alpha).toBe(16);
  });

  it("says which required keys are missing and which flags to pass", () => {
    const error = (() => {
      try {
        resolveTrainConfig([{ output_dir: "/o" }]);
      } catch (e) {
        return e as DanluError;
      }
    })();
    expect(error?.message).toBe("missing pretrained_model_name_or_path, train_data_dir");
    expect(error?.hint).toContain("--pretrained-model-name-or-path");
    expect(error?.hint).toContain("--train-data-dir");
  });

  it("does not need train_data_dir when dataset subsets are given", () => {
    const { train_data_dir: _, ...rest } = required;
    expect(resolveTrainConfig([rest], { subsetsGiven: true }).train_data_dir).toBeNull();
  });

  it("rejects settings that contradict each other", () => {
    expect(() =>
      resolveTrainConfig([
        required,
        { network_train_unet_only: true, network_train_text_encoder_only: true },
      ]),
    ).toThrow(/both set/);
    expect(() => resolveTrainConfig([required, { min_bucket_reso: 1024, max_bucket_reso: 512 }])).toThrow(
      /larger/,
    );
    expect(() => resolveTrainConfig([required, { sample_every_n_epochs: 1 }])).toThrow(/sample_prompts/);
  });

  it("turns cache_latents on with cache_latents_to_disk", () => {
    expect(resolveTrainConfig([required, { cache_latents_to_disk: true }]).cache_latents).toBe(true);
  });
});

describe("flags", () => {
  function parse(argv: string[]): Record<string, unknown> {
    const command = addTrainConfigOptions(new Command("train").exitOverride());
    command.parse(argv, { from: "user" });
    return configFromOptions(command.opts());
  }

  it("turns kebab-case flags into checked keys, leaving unset flags out", () => {
    const layer = parse([
      "--network-dim",
      "64",
      "--resolution",
      "768,512",
      "--cache-latents",
      "--no-enable-bucket",
      "--optimizer-args",
      "weight_decay=0.1",
      "eps=1e-6",
      "--lr-warmup-steps",
      "10%",
      "--learning-rate",
      "5e-5",
    ]);
    expect(layer).toEqual({
      network_dim: 64,
      resolution: [768, 512],
      cache_latents: true,
      enable_bucket: false,
      optimizer_args: ["weight_decay=0.1", "eps=1e-6"],
      lr_warmup_steps: 0.1,
      learning_rate: 5e-5,
    });
  });

  it("reads relative path flags from the working directory", () => {
    expect(parse(["--output-dir", "out"])).toEqual({ output_dir: join(process.cwd(), "out") });
  });

  it("names the flag and expected type for a bad value", () => {
    expect(() => parse(["--network-dim", "4.5"])).toThrow(
      '--network-dim: network_dim must be int >= 1 (got "4.5")',
    );
  });

  it("prints type and default in --help", () => {
    const help = addTrainConfigOptions(new Command("train")).helpInformation();
    expect(help).toMatch(/--network-dim <int>\s+LoRA rank .*\(int >= 1, default: 32\)/);
    expect(help).toMatch(/--caption-extension <string>\s+caption file extension.*default: "\.txt"/);
    expect(help).not.toContain("--no-cache-latents");
  });
});
