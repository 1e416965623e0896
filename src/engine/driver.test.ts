import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runEngine, type EngineRunOptions } from "./driver.ts";
import { EngineCancelledError, EngineFailure, EngineProcessError } from "./errors.ts";
import type { EngineEvent } from "./protocol.ts";

const spec = { version: 1 as const, path: "/models/x.safetensors" };

/** Runs a fake engine from fixtures/ in place of the Python one. */
function runFake(fixture: string, options: EngineRunOptions = {}, env: Record<string, string> = {}) {
  const script = fileURLToPath(new URL(`./fixtures/${fixture}.mjs`, import.meta.url));
  return runEngine("info", spec, {
    readyTimeoutMs: 10_000,
    killTimeoutMs: 2_000,
    ...options,
    launcher: { executable: process.execPath, args: [script], env },
  });
}

/** The rejection of a promise that must reject. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection, got ${String(outcome)}`);
  return outcome;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed process whose parent has exited stays a zombie (state Z) until init reaps it, which some
  // container inits never do: dead all the same.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

// A broken driver would leave a fake engine running forever: fail fast instead of at the global timeout.
describe("runEngine with fake engines", { timeout: 20_000 }, () => {
  it("follows a normal run: events in order, result data, outputs, the spec on the command line", async () => {
    const seen: EngineEvent[] = [];
    const result = await runFake("progress-done", { onEvent: (event) => seen.push(event) });
    expect(result.status).toBe("done");
    if (result.status !== "done") return;
    expect(result.outputs).toEqual(["/out/x.safetensors"]);
    expect(result.steps).toBe(5);
    expect(result.data).toMatchObject({ command: "info", spec });
    expect(result.ready?.engine_version).toBe("0-fake");
    expect(result.lastProgress?.step).toBe(5);
    expect(seen.map((e) => e.event)).toEqual([
      "ready",
      "phase",
      ...Array(3).fill("phase"),
      ...Array(5).fill("progress"),
      "log",
      "checkpoint",
      "result",
      "done",
    ]);
    // progress goes to onEvent only; the result keeps the rest
    expect(result.events.some((e) => e.event === "progress")).toBe(false);
    expect(result.events).toHaveLength(seen.length - 5);
  });

  it("writes the spec where asked and keeps it; a temp spec is removed afterwards", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-driver-"));
    const specPath = join(dir, "spec.json");
    await runFake("progress-done", { specPath });
    expect(JSON.parse(readFileSync(specPath, "utf8"))).toEqual(spec);

    const result = await runFake("progress-done");
    if (result.status !== "done") throw new Error("expected done");
    const tempSpec = String(result.data?.specPath);
    expect(tempSpec).toContain("danlu-spec-");
    expect(existsSync(tempSpec)).toBe(false);
  });

  it("turns an error event into EngineFailure with the code and a hint", async () => {
    const error = await failure(runFake("error-event"));
    expect(error).toBeInstanceOf(EngineFailure);
    const engineError = error as EngineFailure;
    expect(engineError.engineCode).toBe("OUT_OF_MEMORY");
    expect(engineError.code).toBe("OUT_OF_MEMORY");
    expect(engineError.message).toContain("CUDA out of memory");
    expect(engineError.hint).toContain("train_batch_size");
    expect(engineError.hint).toContain("gradient-checkpointing");
  });

  it("names the log file for INTERNAL errors", async () => {
    const error = await failure(
      runFake("error-event", { logPath: "/out/train.log" }, { FAKE_CODE: "INTERNAL" }),
    );
    expect(error).toBeInstanceOf(EngineFailure);
    expect((error as EngineFailure).detail).toContain("Traceback");
    expect((error as EngineFailure).hint).toContain("/out/train.log");
  });

  it("reports a killed engine with the last stderr lines", async () => {
    const error = await failure(runFake("crash-killed"));
    expect(error).toBeInstanceOf(EngineProcessError);
    expect((error as EngineProcessError).reason).toBe("crash");
    expect(error.message).toContain("SIGKILL");
    expect(error.message).toContain("out-of-memory killer");
    expect(error.message).toContain("allocating the next batch");
  });

  it("reads exit code 139 as a segmentation fault", async () => {
    const error = await failure(runFake("crash-exit-139"));
    expect((error as EngineProcessError).reason).toBe("crash");
    expect(error.message).toContain("segmentation fault");
    expect(error.message).toContain("exit code 139");
  });

  it("reports a non-zero exit without an error event, with the traceback from stderr", async () => {
    const error = await failure(runFake("exit-nonzero"));
    expect((error as EngineProcessError).reason).toBe("crash");
    expect(error.message).toContain("exited with code 1 without reporting an error");
    expect(error.message).toContain("ImportError: libcuda.so.1");
  });

  it("stops an engine that hangs after ready (idle timeout)", async () => {
    let pid = 0;
    const error = await failure(
      runFake("hang-after-ready", {
        idleTimeoutMs: 300,
        onEvent: (event) => {
          if (event.event === "ready") pid = event.pid;
        },
      }),
    );
    expect((error as EngineProcessError).reason).toBe("idle-timeout");
    expect(error.message).toContain("presumed hung");
    expect(isAlive(pid)).toBe(false);
  });

  it("fails on a stray line on stdout, quoting it, and stops the engine", async () => {
    const seen: string[] = [];
    let pid = 0;
    const error = await failure(
      runFake("garbage-stdout", {
        onEvent: (event) => {
          seen.push(event.event);
          if (event.event === "ready") pid = event.pid;
        },
      }),
    );
    expect((error as EngineProcessError).reason).toBe("protocol");
    expect(error.message).toContain("not JSON");
    expect(error.message).toContain("Loading pipeline components");
    expect(seen).toEqual(["ready", "progress"]); // nothing after the bad line is passed on
    expect(isAlive(pid)).toBe(false);
  });

  it("fails on an event the protocol does not define", async () => {
    const error = await failure(runFake("unknown-event"));
    expect((error as EngineProcessError).reason).toBe("protocol");
    expect(error.message).toContain("telemetry");
  });

  it("waits for a slow start within the ready timeout", async () => {
    const result = await runFake("slow-start", { readyTimeoutMs: 5_000 }, { FAKE_DELAY_MS: "800" });
    expect(result.status).toBe("done");
  });

  it("fails an engine that never becomes ready, with what it said on stderr", async () => {
    const error = await failure(runFake("never-ready", { readyTimeoutMs: 400 }));
    expect((error as EngineProcessError).reason).toBe("ready-timeout");
    expect(error.message).toContain("did not become ready within 400 ms");
    expect(error.message).toContain("importing torch...");
  });

  it("passes every stderr line on and keeps only the last lines", async () => {
    const lines: string[] = [];
    const result = await runFake("stderr-noise", { onStderrLine: (line) => lines.push(line) });
    expect(result.status).toBe("done");
    expect(lines).toHaveLength(101);
    expect(lines[0]).toBe("UserWarning: noise line 1 丹炉");
    expect(lines[100]).toBe("last line without newline");
  });

  it("cancels with SIGTERM: the engine saves its state and the result says where", async () => {
    const controller = new AbortController();
    const result = await runFake("cancel", {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.event === "progress" && event.step === 3) controller.abort();
      },
    });
    expect(result.status).toBe("cancelled");
    if (result.status !== "cancelled") return;
    expect(result.stateDir).toBe("/out/run-state");
    expect(result.step).toBeGreaterThanOrEqual(3);
  });

  it("SIGKILLs an engine that ignores SIGTERM and says no state was saved", async () => {
    const controller = new AbortController();
    const stderr: string[] = [];
    const started = Date.now();
    const error = await failure(
      runFake("ignore-sigterm", {
        signal: controller.signal,
        killTimeoutMs: 500,
        onStderrLine: (line) => stderr.push(line),
        onEvent: (event) => {
          if (event.event === "progress") controller.abort();
        },
      }),
    );
    expect(error).toBeInstanceOf(EngineCancelledError);
    expect(error.message).toContain("SIGKILL");
    expect(stderr).toContain("SIGTERM ignored");
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it("does not start when the signal is already aborted", async () => {
    const error = await failure(runFake("progress-done", { signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(EngineCancelledError);
  });

  it("rejects with the caller's own error when onEvent throws, and stops the engine", async () => {
    let pid = 0;
    const error = await failure(
      runFake("ignore-sigterm", {
        killTimeoutMs: 300,
        onEvent: (event) => {
          if (event.event === "ready") pid = event.pid;
          if (event.event === "progress") throw new Error("renderer broke");
        },
      }),
    );
    expect(error.message).toBe("renderer broke");
    expect(isAlive(pid)).toBe(false);
  });

  it("reports an engine that cannot be started", async () => {
    const error = await failure(
      runEngine("info", spec, { launcher: { executable: "/nonexistent/python", args: [], env: {} } }),
    );
    expect((error as EngineProcessError).reason).toBe("spawn");
    expect((error as EngineProcessError).hint).toContain("npm run setup");
  });

  it("checks the spec and the options before starting anything", async () => {
    const badSpec = { version: 1, path: 3 } as unknown as typeof spec;
    const specError = await failure(runEngine("info", badSpec));
    expect(specError.message).toMatch(/info spec danlu built is invalid/);
    expect((await failure(runFake("progress-done", { readyTimeoutMs: 0 }))).message).toMatch(
      /readyTimeoutMs=0/,
    );
    expect((await failure(runFake("progress-done", { killTimeoutMs: Number.NaN }))).message).toMatch(
      /killTimeoutMs/,
    );
    expect((await failure(runFake("progress-done", { stderrTailLines: 1.5 }))).message).toMatch(
      /stderrTailLines/,
    );
  });
});

describe("when danlu itself exits", { timeout: 30_000 }, () => {
  it("kills the engines it started (no orphan keeps the GPU)", async () => {
    const script = fileURLToPath(new URL("./fixtures/parent-exits.mjs", import.meta.url));
    const { stdout, status } = spawnSync(process.execPath, [script], { encoding: "utf8" });
    expect(status).toBe(130);
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the kernel deliver SIGKILL
    const alive = isAlive(pid);
    if (alive) process.kill(pid, "SIGKILL"); // leave no orphan behind when this test fails
    expect(alive).toBe(false);
  });
});
