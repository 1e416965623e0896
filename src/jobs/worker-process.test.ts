import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { useWarmEngine } from "../engine/driver.ts";
import { WarmEngine } from "../engine/warm-engine.ts";
import { portraitBatch, setPortraitBatch } from "../portrait/train-batcher.ts";
import { DataDir } from "./data-dir.ts";
import type { JobKind, KindContext } from "./kinds/types.ts";
import { shareKinds, SharedLock, startWorkerProcess, warmEngineWanted } from "./worker-process.ts";

const visibleDevices = process.env.CUDA_VISIBLE_DEVICES;
afterEach(() => {
  useWarmEngine(null);
  setPortraitBatch();
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

describe("danlu worker --portrait-batch", () => {
  it("sets the process's portrait batching", async () => {
    const data = new DataDir(mkdtempSync(join(tmpdir(), "danlu-worker-batch-"))).ensure();
    const started = startWorkerProcess({ data, gpu: null, warm: "off", portraitBatch: 3 });
    expect(portraitBatch().size).toBe(3);
    await started.worker.close();
    await started.queue.close();
  });

  it("runs shared kinds side by side and any other kind alone, first come first served", async () => {
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const kind = (name: string): JobKind =>
      ({
        name,
        summary: name,
        usesEngine: true,
        run: async (params: Record<string, unknown>) => {
          const id = String(params.id);
          log.push(`start ${id}`);
          await new Promise<void>((resolve) => gates.set(id, resolve));
          log.push(`end ${id}`);
          return {};
        },
      }) as unknown as JobKind;
    const kinds = shareKinds({ portrait: kind("portrait"), train: kind("train") }, ["portrait"]);
    const ctx = {} as KindContext;
    const tick = () => new Promise((resolve) => setTimeout(resolve, 10));
    const p1 = kinds.portrait!.run({ id: "p1" }, ctx);
    const p2 = kinds.portrait!.run({ id: "p2" }, ctx);
    const t1 = kinds.train!.run({ id: "t1" }, ctx);
    const p3 = kinds.portrait!.run({ id: "p3" }, ctx);
    await tick();
    expect(log).toEqual(["start p1", "start p2"]); // t1 waits for both; p3 waits behind t1
    gates.get("p1")!();
    await tick();
    expect(log).toEqual(["start p1", "start p2", "end p1"]);
    gates.get("p2")!();
    await tick();
    expect(log.slice(3)).toEqual(["end p2", "start t1"]);
    gates.get("t1")!();
    await tick();
    expect(log.slice(5)).toEqual(["end t1", "start p3"]);
    gates.get("p3")!();
    await Promise.all([p1, p2, t1, p3]);
  });

  it("hands the lock on at release, once per holder", async () => {
    const lock = new SharedLock();
    const release = await lock.acquire(false);
    let second = false;
    const next = lock.acquire(true).then((r) => {
      second = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(second).toBe(false);
    release();
    release(); // twice: once only
    (await next)();
    expect(second).toBe(true);
  });
});
