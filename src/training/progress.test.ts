import { describe, expect, it } from "vitest";
import type { ProgressEvent } from "../engine/protocol.ts";
import {
  LossEma,
  ProgressRenderer,
  formatDuration,
  formatLearningRate,
  formatMemory,
  formatPhase,
  formatProgressLine,
  formatSpeed,
  remainingSeconds,
} from "./progress.ts";

function progress(step: number, fields: Partial<ProgressEvent> = {}): ProgressEvent {
  return {
    event: "progress",
    step,
    total_steps: 800,
    epoch: 2,
    loss: 0.1234,
    lr: 1e-4,
    it_per_s: 3.21,
    images_per_s: 6.42,
    memory_mb: 6963,
    elapsed_s: 10,
    ...fields,
  };
}

describe("formatting", () => {
  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(59.4)).toBe("59s");
    expect(formatDuration(212)).toBe("3m32s");
    expect(formatDuration(3600 + 5 * 60 + 10)).toBe("1h05m");
    expect(formatDuration(2 * 86_400 + 3 * 3600)).toBe("2d03h");
    expect(formatDuration(null)).toBe("?");
    expect(formatDuration(Infinity)).toBe("?");
  });

  it("estimates the time left from the speed", () => {
    expect(remainingSeconds(120, 800, 3.21)).toBeCloseTo(680 / 3.21);
    expect(remainingSeconds(800, 800, 2)).toBe(0);
    expect(remainingSeconds(1, 800, 0)).toBeNull();
  });

  it("smooths the loss with a bias-corrected EMA", () => {
    const ema = new LossEma(0.9);
    expect(ema.update(1)).toBeCloseTo(1); // no pull toward 0 at the start
    expect(ema.update(0)).toBeCloseTo((0.9 * 0.1) / (1 - 0.81)); // (0.09) / 0.19
    const steady = new LossEma(0.5);
    for (let i = 0; i < 50; i++) steady.update(0.2);
    expect(steady.update(0.2)).toBeCloseTo(0.2);
    expect(() => new LossEma(1)).toThrow(RangeError);
  });

  it("formats learning rates, memory and speed", () => {
    expect(formatLearningRate(1e-4)).toBe("1.0e-4");
    expect(formatLearningRate(0.00035)).toBe("3.5e-4");
    expect(formatLearningRate(0)).toBe("0");
    expect(formatMemory(512)).toBe("512 MiB");
    expect(formatMemory(6963)).toBe("6.8 GiB");
    expect(formatSpeed(3.214)).toBe("3.21 it/s");
    expect(formatSpeed(0.4)).toBe("2.50 s/it");
    expect(formatSpeed(0)).toBe("? it/s");
  });

  it("builds the progress line, with GPU memory only when there is a GPU", () => {
    expect(formatProgressLine(progress(120), 0.1234, 10)).toBe(
      "step 120/800 | loss 0.1234 | lr 1.0e-4 | 3.21 it/s | ETA 3m32s | GPU 6.8 GiB | epoch 2/10",
    );
    expect(formatProgressLine(progress(120, { memory_mb: null }), 0.5, null)).toBe(
      "step 120/800 | loss 0.5000 | lr 1.0e-4 | 3.21 it/s | ETA 3m32s | epoch 2",
    );
  });

  it("names phases with their counts", () => {
    expect(formatPhase({ event: "phase", name: "load_model", current: null, total: null })).toBe(
      "loading model",
    );
    expect(formatPhase({ event: "phase", name: "cache_latents", current: 12, total: 40 })).toBe(
      "caching latents 12/40",
    );
  });
});

/** A fake stream and clock. */
function setup(isTTY: boolean, options: { plainEverySteps?: number } = {}) {
  const writes: string[] = [];
  let nowMs = 0;
  const renderer = new ProgressRenderer({
    stream: { write: (text: string) => writes.push(text), isTTY, columns: 200 },
    totalEpochs: 10,
    plainEverySeconds: 30,
    ...options,
    now: () => nowMs,
  });
  return { renderer, writes, advance: (ms: number) => (nowMs += ms) };
}

describe("ProgressRenderer", () => {
  it("rewrites one line in place on a TTY, throttled, and clears it at the end", () => {
    const { renderer, writes, advance } = setup(true);
    renderer.update({ event: "phase", name: "cache_latents", current: 1, total: 2 });
    advance(200);
    renderer.update(progress(1, { total_steps: 3 }));
    renderer.update(progress(2, { total_steps: 3 })); // within 100 ms: not drawn
    renderer.update(progress(3, { total_steps: 3 })); // the last step is always drawn
    renderer.note("saved epoch 1");
    renderer.finish();
    expect(writes[0]).toBe("\rcaching latents 1/2\x1b[K");
    expect(writes[1]).toMatch(/^\rstep 1\/3 \| loss 0.1234 \| /);
    expect(writes[1]?.endsWith("\x1b[K")).toBe(true);
    expect(writes[2]).toMatch(/^\rstep 3\/3 /);
    expect(writes.slice(3)).toEqual(["\r\x1b[K", "saved epoch 1\n", writes[2], "\r\x1b[K"]);
  });

  it("prints plain lines by time without a TTY, plus the last step", () => {
    const { renderer, writes, advance } = setup(false);
    renderer.update({ event: "phase", name: "load_model", current: null, total: null });
    for (let step = 1; step <= 100; step++) {
      advance(1000); // one step per second
      renderer.update(progress(step, { total_steps: 100 }));
    }
    renderer.finish();
    const steps = writes.filter((w) => w.startsWith("step")).map((w) => Number(/^step (\d+)/.exec(w)?.[1]));
    expect(writes[0]).toBe("loading model\n");
    expect(steps).toEqual([1, 31, 61, 91, 100]);
    expect(writes.every((w) => !w.includes("\r"))).toBe(true);
  });

  it("prints every N steps when asked, and a final line from finish() when the run stops early", () => {
    const { renderer, writes } = setup(false, { plainEverySteps: 10 });
    for (let step = 1; step <= 25; step++) renderer.update(progress(step, { total_steps: 100 }));
    renderer.finish();
    const steps = writes.map((w) => Number(/^step (\d+)/.exec(w)?.[1]));
    expect(steps).toEqual([1, 11, 21, 25]);
  });

  it("shows a phase once when it starts and once at its end without a TTY", () => {
    const { renderer, writes } = setup(false);
    for (let i = 1; i <= 40; i++)
      renderer.update({ event: "phase", name: "cache_latents", current: i, total: 40 });
    expect(writes).toEqual(["caching latents 1/40\n", "caching latents 40/40\n"]);
  });
});
