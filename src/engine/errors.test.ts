import { describe, expect, it } from "vitest";
import { DanluError, formatError } from "../errors.ts";
import { EngineFailure, EngineProcessError, describeExit } from "./errors.ts";
import { ENGINE_ERROR_CODES } from "./protocol.ts";

describe("EngineFailure", () => {
  it("gives every engine error code a summary and a hint, and keeps the engine's message", () => {
    for (const code of ENGINE_ERROR_CODES) {
      const error = new EngineFailure(code, "the engine's words", null);
      expect(error).toBeInstanceOf(DanluError);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(/^[A-Z].*: the engine's words$/);
      expect(error.hint?.length).toBeGreaterThan(30);
    }
  });

  it("says what to try for the common failures", () => {
    const oom = new EngineFailure("OUT_OF_MEMORY", "CUDA out of memory", null).hint;
    for (const advice of [
      "train_batch_size",
      "--gradient-checkpointing",
      "resolution",
      "bf16",
      "--cache-latents",
    ]) {
      expect(oom).toContain(advice);
    }
    const nan = new EngineFailure("NAN_LOSS", "loss is nan at step 3", null).hint;
    for (const advice of ["learning rate", "--no-half-vae", "bf16"]) expect(nan).toContain(advice);
    expect(new EngineFailure("BAD_MODEL", "x", null).hint).toContain(
      ".ckpt is loaded only with torch's safe loader",
    );
  });

  it("points INTERNAL errors at the log, or at DANLU_DEBUG without one", () => {
    expect(new EngineFailure("INTERNAL", "x", "tb", { logPath: "/o/train.log" }).hint).toContain(
      "/o/train.log",
    );
    expect(new EngineFailure("INTERNAL", "x", "tb").hint).toContain("DANLU_DEBUG=1");
  });
});

describe("EngineProcessError", () => {
  it("appends the stderr tail to the message and sets a code per reason", () => {
    const error = new EngineProcessError("idle-timeout", "No event.", { stderrTail: ["a", "b"] });
    expect(error.message).toBe("No event.\nlast lines the engine wrote on stderr:\n  a\n  b");
    expect(error.code).toBe("ENGINE_IDLE_TIMEOUT");
  });
});

describe("describeExit", () => {
  it("reads signals and shell-style 128+N codes", () => {
    expect(describeExit(null, "SIGKILL")).toContain("out-of-memory killer");
    expect(describeExit(null, "SIGSEGV")).toContain("segmentation fault");
    expect(describeExit(139, null)).toContain("segmentation fault");
    expect(describeExit(137, null)).toContain("SIGKILL");
    expect(describeExit(null, "SIGUSR2")).toBe("was stopped by SIGUSR2");
    expect(describeExit(2, null)).toContain("spec file");
    expect(describeExit(7, null)).toBe("exited with code 7");
  });
});

describe("EngineFailure with a traceback", () => {
  it("shows the engine's traceback through formatError in debug mode only", () => {
    const error = new EngineFailure(
      "INTERNAL",
      "ValueError: x",
      'Traceback (most recent call last):\n  File "a.py"',
    );
    expect(formatError(error, true)).toContain('File "a.py"');
    expect(formatError(error, false)).not.toContain("Traceback");
  });
});
