import type { z } from "zod";
import { DanluError } from "../errors.ts";
import { EngineProcess } from "./engine-process.ts";
import { EngineCancelledError } from "./errors.ts";
import { engineLauncher } from "./python.ts";
import type { EngineCommand, EngineRunOptions, EngineRunResult, WarmRunner } from "./run-types.ts";
import { generateSpec, makeTinySpec, modelInfoSpec, trainManySpec, trainSpec } from "./spec.ts";
import { doctorSpec } from "./spec-doctor.ts";
import { writeSpecFile } from "./spec-file.ts";
import { loraBakeSpec, loraExtractSpec, loraMergeSpec, loraResizeSpec } from "./spec-lora.ts";

export type {
  EngineCancelled,
  EngineCommand,
  EngineDone,
  EngineRunOptions,
  EngineRunResult,
} from "./run-types.ts";

const SPEC_SCHEMAS = {
  "make-tiny": makeTinySpec,
  info: modelInfoSpec,
  doctor: doctorSpec,
  train: trainSpec,
  "train-many": trainManySpec,
  generate: generateSpec,
  "lora-resize": loraResizeSpec,
  "lora-merge": loraMergeSpec,
  "lora-bake": loraBakeSpec,
  "lora-extract": loraExtractSpec,
} as const satisfies Record<EngineCommand, z.ZodType>;
export type SpecFor<C extends EngineCommand> = z.input<(typeof SPEC_SCHEMAS)[C]>;

const HOUR_MS = 3_600_000;

/** The commands a warm engine runs: the ones that load a base model. */
const WARM_COMMANDS: ReadonlySet<EngineCommand> = new Set(["train", "generate"]);
let defaultWarmEngine: WarmRunner | null = null;

/**
 * Makes `engine` the warm engine of every later runEngine call that names none (null: one-shot again);
 * `danlu worker --warm` sets one per worker process.
 */
export function useWarmEngine(engine: WarmRunner | null): void {
  defaultWarmEngine = engine;
}

function checkedOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) {
    throw new DanluError(`runEngine: option ${name}=${chosen} is not an integer in [${min}, ${max}].`, {
      code: "INVALID_OPTION",
    });
  }
  return chosen;
}

/**
 * Runs `python -m danlu_engine <command> <spec.json>` and follows its events to the end (train and
 * generate in a warm engine instead when one is given or set with useWarmEngine). Resolves with
 * the outputs (`done`) or a cancelled result (`cancelled`, after `signal` aborted); rejects with
 * EngineFailure (an `error` event), EngineProcessError (crash, hang, no handshake, bad stdout) or
 * EngineCancelledError (cancelled, but the engine had to be killed).
 */
export async function runEngine<C extends EngineCommand>(
  command: C,
  spec: SpecFor<C>,
  options: EngineRunOptions = {},
): Promise<EngineRunResult> {
  const settings = {
    readyTimeoutMs: checkedOption("readyTimeoutMs", options.readyTimeoutMs, 120_000, 1, HOUR_MS),
    idleTimeoutMs:
      options.idleTimeoutMs === undefined
        ? null
        : checkedOption("idleTimeoutMs", options.idleTimeoutMs, 0, 1, 24 * HOUR_MS),
    killTimeoutMs: checkedOption("killTimeoutMs", options.killTimeoutMs, 60_000, 1, HOUR_MS),
    stderrTailLines: checkedOption("stderrTailLines", options.stderrTailLines, 30, 0, 1000),
  };
  const checked = SPEC_SCHEMAS[command].safeParse(spec);
  if (!checked.success) {
    throw new DanluError(`The ${command} spec danlu built is invalid: ${checked.error.message}`, {
      code: "BAD_SPEC",
      hint: "This is a bug in danlu: please report it.",
    });
  }
  if (options.signal?.aborted) throw new EngineCancelledError("Cancelled before the engine started.");
  const warm = options.launcher ? null : options.warm === undefined ? defaultWarmEngine : options.warm;
  if (warm && WARM_COMMANDS.has(command)) {
    if (options.specPath) await writeSpecFile(checked.data, options.specPath); // kept, as one-shot runs keep it
    return warm.run(command, checked.data, options, settings);
  }
  const launcher = options.launcher ?? engineLauncher();
  const specFile = await writeSpecFile(checked.data, options.specPath);
  try {
    return await new EngineProcess(command, specFile.path, launcher, options, settings).run();
  } finally {
    await specFile.cleanup();
  }
}
