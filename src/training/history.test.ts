import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProgressEvent } from "../engine/protocol.ts";
import { LossHistory, TrainLog } from "./history.ts";

function progress(step: number, loss: number): ProgressEvent {
  return {
    event: "progress",
    step,
    total_steps: 10,
    epoch: step <= 5 ? 1 : 2,
    loss,
    lr: 0.0001,
    it_per_s: 2.5,
    images_per_s: 5,
    memory_mb: null,
    elapsed_s: step,
  };
}

const folder = () => mkdtempSync(join(tmpdir(), "danlu-history-"));

describe("LossHistory", () => {
  it("writes a header and one row per step, readable before close (nothing buffered)", () => {
    const path = join(folder(), "loss.csv");
    const history = new LossHistory(path);
    history.append(progress(1, 0.25));
    history.append(progress(2, 0.125));
    expect(readFileSync(path, "utf8")).toBe(
      "step,epoch,loss,lr,it_per_s\n1,1,0.25,0.0001,2.5\n2,1,0.125,0.0001,2.5\n",
    );
    history.close();
    expect(() => history.append(progress(3, 0.1))).toThrow(/closed/);
  });

  it("starts afresh for a new run, and keeps the rows up to the resumed step for a resume", () => {
    const path = join(folder(), "loss.csv");
    const first = new LossHistory(path);
    for (let step = 1; step <= 7; step++) first.append(progress(step, step / 10));
    first.close();

    const resumed = new LossHistory(path, { resumeAfterStep: 5 });
    resumed.append(progress(6, 0.66));
    resumed.close();
    const steps = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((row) => row.split(",")[0]);
    expect(steps).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(readFileSync(path, "utf8")).toContain("6,2,0.66,");

    new LossHistory(path).close();
    expect(readFileSync(path, "utf8")).toBe("step,epoch,loss,lr,it_per_s\n");
  });

  it("refuses to resume into a file that is not a loss history", () => {
    const path = join(folder(), "loss.csv");
    writeFileSync(path, "name,value\n");
    expect(() => new LossHistory(path, { resumeAfterStep: 3 })).toThrow(/not a danlu loss history/);
  });
});

describe("TrainLog", () => {
  it("records stderr, log events and milestones with timestamps, one line per phase", () => {
    const path = join(folder(), "train.log");
    const log = new TrainLog(path, () => new Date("2026-01-02T03:04:05.000Z"));
    log.note("danlu train --config run.toml");
    log.event({
      event: "ready",
      engine_version: "0.1.0",
      torch_version: "2.5",
      device: "cpu",
      dtype: "float32",
      pid: 7,
    });
    log.stderr("UserWarning: something");
    for (let i = 1; i <= 3; i++) log.event({ event: "phase", name: "cache_latents", current: i, total: 3 });
    log.event(progress(1, 0.2));
    log.event({ event: "log", level: "warning", message: "low disk space" });
    log.event({ event: "error", code: "INTERNAL", message: "boom", detail: "Traceback\n  line 1" });
    log.close();
    expect(readFileSync(path, "utf8").split("\n")).toEqual([
      "2026-01-02T03:04:05.000Z danlu      danlu train --config run.toml",
      "2026-01-02T03:04:05.000Z ready      engine 0.1.0 ready: torch 2.5, cpu, float32, pid 7",
      "2026-01-02T03:04:05.000Z stderr     UserWarning: something",
      "2026-01-02T03:04:05.000Z phase      caching latents 1/3",
      "2026-01-02T03:04:05.000Z warning    low disk space",
      "2026-01-02T03:04:05.000Z error      INTERNAL: boom",
      "    Traceback",
      "      line 1",
      "",
    ]);
  });

  it("appends across runs (a resume keeps the earlier log)", () => {
    const path = join(folder(), "train.log");
    const first = new TrainLog(path);
    first.note("first");
    first.close();
    const second = new TrainLog(path);
    second.note("second");
    second.close();
    expect(readFileSync(path, "utf8")).toMatch(/first\n.*second\n$/);
  });
});
