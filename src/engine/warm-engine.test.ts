import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGenerateSpec } from "../generate/gen.ts";
import { runEngine, useWarmEngine } from "./driver.ts";
import { EngineProcessError } from "./errors.ts";
import type { EngineEvent } from "./protocol.ts";
import { WarmEngine } from "./warm-engine.ts";

// The real engine (`python -m danlu_engine serve`) on a tiny random-weight SD1.5 model, 64 px images.
let root = "";
let model = "";
const engine = new WarmEngine({ startTimeoutMs: 120_000 });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-warm-"));
  model = join(root, "sd15.safetensors");
  // through the warm engine too: one engine start fewer (make-tiny has no base model to keep)
  const settings = {
    readyTimeoutMs: 120_000,
    idleTimeoutMs: null,
    killTimeoutMs: 60_000,
    stderrTailLines: 30,
  };
  const tiny = { version: 1, arch: "sd15", out: model, single_file: true, inpainting: false, seed: 0 };
  await engine.run("make-tiny", tiny, {}, settings);
}, 120_000);
afterAll(() => engine.close());

function spec(out: string, images = 1) {
  return buildGenerateSpec({
    model,
    prompt: "a red square",
    negative: "",
    loras: [],
    sampler: "Euler",
    steps: 2,
    cfg: 5,
    width: 64,
    height: 64,
    seed: 3,
    batchCount: images,
    batchSize: 1,
    clipSkip: 1,
    strength: 0.75,
    out: join(root, out),
    device: "cpu",
    precision: "no",
  });
}

function cacheHits(events: EngineEvent[]): boolean[] {
  return events.flatMap((e) => (e.event === "model_cache" ? [e.hit] : []));
}

describe("WarmEngine on the real engine", { timeout: 180_000 }, () => {
  it("runs jobs one after another in one process; the second finds the model loaded, same image", async () => {
    const first = await runEngine("generate", spec("a"), { warm: engine });
    useWarmEngine(engine); // the process default, as `danlu worker --warm` sets it
    const second = await runEngine("generate", spec("b")).finally(() => useWarmEngine(null));
    expect(first.status === "done" && second.status === "done").toBe(true);
    expect(second.ready?.pid).toBe(first.ready?.pid);
    expect([...cacheHits(first.events), ...cacheHits(second.events)]).toEqual([false, true]);
    // the same image from the cached model as from the freshly loaded one (engine/tests/test_serve.py
    // compares served training with one-shot training)
    const png = (dir: string) => readFileSync(join(root, dir, "00000-3.png"));
    expect(png("b").equals(png("a"))).toBe(true);
  });

  it("cancels a job with its signal and keeps serving; a crashed engine fails its job and starts again", async () => {
    const controller = new AbortController();
    const cancelled = await runEngine("generate", spec("cancel", 6), {
      warm: engine,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.event === "sample") controller.abort();
      },
    });
    expect(cancelled.status).toBe("cancelled");
    const pid = engine.pid;
    const after = await runEngine("generate", spec("after"), { warm: engine });
    expect(after.status).toBe("done");
    expect(after.ready?.pid).toBe(pid);

    const crash = runEngine("generate", spec("crash", 6), {
      warm: engine,
      onEvent: (event) => {
        if (event.event === "sample" && pid !== null) process.kill(pid, "SIGKILL");
      },
    });
    await expect(crash).rejects.toThrow(EngineProcessError);
    const respawned = await runEngine("generate", spec("respawned"), { warm: engine });
    expect(respawned.status).toBe("done");
    expect(respawned.ready?.pid).not.toBe(pid);
  });
});
