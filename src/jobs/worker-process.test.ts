import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { useWarmEngine } from "../engine/driver.ts";
import { WarmEngine } from "../engine/warm-engine.ts";
import { DataDir } from "./data-dir.ts";
import { startWorkerProcess, warmEngineWanted } from "./worker-process.ts";

const visibleDevices = process.env.CUDA_VISIBLE_DEVICES;
afterEach(() => {
  useWarmEngine(null);
  // startWorkerProcess sets it for the engines it starts
  if (visibleDevices === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
  else process.env.CUDA_VISIBLE_DEVICES = visibleDevices;
});

describe("danlu worker --warm", () => {
  it("is on for a GPU worker by default, off for a CPU one, and on or off when asked", () => {
    expect(warmEngineWanted("auto", 0)).toBe(true);
    expect(warmEngineWanted("auto", null)).toBe(false);
    expect(warmEngineWanted("on", null)).toBe(true);
    expect(warmEngineWanted("off", 1)).toBe(false);
  });

  it("gives the worker process one warm engine, started at its first job", async () => {
    const data = new DataDir(mkdtempSync(join(tmpdir(), "danlu-worker-warm-"))).ensure();
    for (const [warm, expected] of [
      ["on", true],
      ["auto", false],
    ] as const) {
      const started = startWorkerProcess({ data, gpu: null, warm });
      expect(started.warm instanceof WarmEngine).toBe(expected);
      expect(started.warm?.pid ?? null).toBeNull(); // no engine until a job needs one
      await started.worker.close();
      await started.warm?.close();
      await started.queue.close();
    }
  });
});
