import { DanluError } from "../errors.ts";
import type { EngineErrorCode } from "./protocol.ts";

/** What each engine error code means for a person, and what to try. */
const ENGINE_ERROR_HELP: Record<EngineErrorCode, { summary: string; hint: string }> = {
  OUT_OF_MEMORY: {
    summary: "The engine ran out of memory",
    hint:
      "Try, roughly in this order: a smaller train_batch_size (1 is fine; raise gradient_accumulation_steps " +
      "to keep the effective batch), --gradient-checkpointing, mixed precision bf16 (or fp16 on older GPUs), " +
      "--cache-latents (the VAE then leaves memory before training), a lower resolution (e.g. 512 for SD1.5, " +
      "768 for SDXL), or a smaller network_dim.",
  },
  NAN_LOSS: {
    summary: "The training loss became NaN (not a number): the weights are no longer usable",
    hint:
      "Lower the learning rate (e.g. unet_lr 1e-4 or less), keep the VAE in fp32 (--no-half-vae; SDXL's VAE " +
      "overflows in fp16), prefer mixed precision bf16 to fp16 where the GPU supports it, and set max_grad_norm " +
      "(1.0) if it is 0.",
  },
  FILE_NOT_FOUND: {
    summary: "A file the engine needs was not found",
    hint: "Check the path in the message: it must exist and be readable (paths are resolved from where you ran danlu).",
  },
  BAD_MODEL: {
    summary: "The model file could not be read as a Stable Diffusion checkpoint",
    hint:
      "Supported: a single-file checkpoint (.safetensors; .ckpt is loaded only with torch's safe loader, " +
      "weights_only) or a diffusers folder (model_index.json, unet/, vae/, text_encoder/), for SD1.x, SD2.x and " +
      "SDXL base. A file that is truncated (an interrupted download) or is a LoRA/VAE/embedding rather than a base " +
      "model gives this error; `danlu model info FILE` tells what a file is.",
  },
  UNSUPPORTED_ARCH: {
    summary: "The model's architecture is not supported",
    hint:
      "danlu trains on SD1.x, SD2.x (including 768-v) and SDXL base models. SDXL refiner, SD3, Flux, Pixart and " +
      "video models are not supported; `danlu model info FILE` shows what was detected.",
  },
  BAD_SPEC: {
    summary: "The engine rejected the run description danlu gave it",
    hint: "This is a bug in danlu, not in your settings: please report it with the message above.",
  },
  BAD_IMAGE: {
    summary: "An image could not be read",
    hint: "Run `danlu data check` on the dataset to find and drop unreadable or truncated images.",
  },
  OPTIMIZER_UNAVAILABLE: {
    summary: "The chosen optimizer is not available here",
    hint:
      "AdamW8bit and Lion8bit need bitsandbytes with a backend for this device; use optimizer_type " +
      '"AdamW" or "Lion" instead (the same algorithms with 32-bit state), which work everywhere.',
  },
  DEVICE_UNAVAILABLE: {
    summary: "The requested device is not available",
    hint:
      'Check that the GPU is visible (nvidia-smi) and that torch was installed with CUDA; use device "cpu" ' +
      '(slow) or "auto" to take whatever is there. fp16/bf16 mixed precision needs a GPU.',
  },
  RESUME_MISMATCH: {
    summary: "The saved state does not match this run",
    hint:
      "--resume continues the same run: the same model, network (dim, alpha, modules), optimizer and dataset " +
      "plan. Resume with the original settings, or start a new run without --resume.",
  },
  BAD_LORA: {
    summary: "A LoRA or embedding file does not fit the model",
    hint:
      "A LoRA (or LyCORIS file, or embedding) works only with the architecture it was trained on: SD1.x, SD2.x " +
      "and SDXL are not interchangeable. `danlu lora info FILE` shows its base model; pick a matching checkpoint.",
  },
  INTERNAL: {
    summary: "The engine failed unexpectedly",
    hint: "This is a bug: please report it with the engine's log.",
  },
};

/** Context the driver adds to errors: where the full log is, and the last lines the engine wrote on stderr. */
export interface EngineErrorContext {
  logPath?: string | undefined;
  stderrTail?: string[];
}

/** The engine reported an `error` event: `engineCode` says what kind, `hint` what to try. */
export class EngineFailure extends DanluError {
  readonly engineCode: EngineErrorCode;
  readonly detail: string | null;

  constructor(
    engineCode: EngineErrorCode,
    engineMessage: string,
    detail: string | null,
    context: EngineErrorContext = {},
  ) {
    const help = ENGINE_ERROR_HELP[engineCode];
    let hint = help.hint;
    if (engineCode === "INTERNAL") {
      hint = context.logPath
        ? `${hint} The full log is ${context.logPath}.`
        : `${hint} Run again with DANLU_DEBUG=1 to see the engine's traceback.`;
    }
    // The traceback as the cause's stack: formatError shows it with DANLU_DEBUG=1.
    const cause =
      detail === null ? undefined : Object.assign(new Error("engine traceback"), { stack: detail });
    super(`${help.summary}: ${engineMessage}`, { code: engineCode, hint, cause });
    this.name = "EngineFailure";
    this.engineCode = engineCode;
    this.detail = detail;
  }
}

/** How the engine process went wrong without reporting an error itself. */
export type EngineProcessFailure =
  | "spawn" // could not be started
  | "ready-timeout" // started, but never wrote its `ready` handshake
  | "idle-timeout" // no event for too long: presumed hung
  | "protocol" // wrote a line that is not a valid event, or events out of order
  | "crash"; // exited or was killed without `done`, `error` or `cancelled`

export class EngineProcessError extends DanluError {
  readonly reason: EngineProcessFailure;
  readonly stderrTail: string[];

  constructor(
    reason: EngineProcessFailure,
    message: string,
    context: EngineErrorContext & { cause?: unknown } = {},
  ) {
    const tail = context.stderrTail ?? [];
    const shown = tail.length ? `\nlast lines the engine wrote on stderr:\n  ${tail.join("\n  ")}` : "";
    const where = context.logPath ? ` The full log is ${context.logPath}.` : "";
    super(`${message}${shown}`, {
      code: `ENGINE_${reason.toUpperCase().replace("-", "_")}`,
      hint: `${PROCESS_HINTS[reason]}${where}`,
      cause: context.cause,
    });
    this.name = "EngineProcessError";
    this.reason = reason;
    this.stderrTail = tail;
  }
}

const PROCESS_HINTS: Record<EngineProcessFailure, string> = {
  spawn: "Run `npm run setup` to (re)create the engine's environment, or check DANLU_PYTHON.",
  "ready-timeout":
    "Importing torch can be slow on a busy machine; if the lines above show no error, try again. " +
    "`.venv/bin/python -c 'import torch'` checks the environment.",
  "idle-timeout":
    "The engine stopped reporting progress and was stopped. Try again; report it if it repeats.",
  protocol:
    "Something in the engine wrote to stdout, which is reserved for events. This is a bug: please report it.",
  crash:
    "A crash without a Python error is usually the system killing the process (out of memory: try a smaller " +
    "batch or resolution) or a broken native library (reinstall with `npm run setup`).",
};

/** The user (or a caller) cancelled, and the engine had to be killed before it could save its state. */
export class EngineCancelledError extends DanluError {
  constructor(message: string) {
    super(message, {
      code: "CANCELLED",
      hint: "No resumable state was saved: a later run starts from the beginning (or from an earlier saved state).",
      exitCode: 130,
    });
    this.name = "EngineCancelledError";
  }
}

const SIGNAL_REASONS: Record<string, string> = {
  SIGKILL: "was killed (SIGKILL; on Linux usually the out-of-memory killer)",
  SIGSEGV: "crashed (segmentation fault in a native library)",
  SIGABRT: "aborted (SIGABRT from a native library)",
  SIGBUS: "crashed (bus error; a memory-mapped model file may have changed or been truncated)",
  SIGTERM: "was terminated (SIGTERM) before it could handle it",
  SIGINT: "was interrupted (SIGINT) before it could handle it",
};

/** A sentence ending for how the process ended: "exited with code 1", "crashed (segmentation fault ...)". */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return SIGNAL_REASONS[signal] ?? `was stopped by ${signal}`;
  if (code === null) return "ended without an exit code";
  // A shell wrapper reports a child killed by signal N as exit code 128 + N.
  if (code > 128 && code < 160) {
    const byNumber: Record<number, string> = { 6: "SIGABRT", 7: "SIGBUS", 9: "SIGKILL", 11: "SIGSEGV" };
    const name = byNumber[code - 128];
    if (name) return `${SIGNAL_REASONS[name]} (exit code ${code})`;
  }
  if (code === 2) return "rejected its command line or spec file (exit code 2)";
  return `exited with code ${code}`;
}
