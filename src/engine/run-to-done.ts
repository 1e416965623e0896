import { DanluError } from "../errors.ts";
import { runEngine, type SpecFor } from "./driver.ts";
import type { EngineEvent } from "./protocol.ts";
import type { EngineCommand, EngineDone, EngineRunOptions } from "./run-types.ts";

/** runEngine for commands that must finish: a cancelled run becomes an error (exit code 130). */
export async function runEngineToDone<C extends EngineCommand>(
  command: C,
  spec: SpecFor<C>,
  options: EngineRunOptions = {},
  cancelledMessage = `The engine stopped before finishing ${command}.`,
): Promise<EngineDone> {
  const result = await runEngine(command, spec, options);
  if (result.status !== "done") {
    throw new DanluError(cancelledMessage, { code: "CANCELLED", exitCode: 130 });
  }
  return result;
}

/**
 * What a short command (model info, lora tools) shows of the engine on stderr: its warnings and
 * errors; everything, and the engine's own stderr, with DANLU_DEBUG=1.
 */
export function shortCommandOutput(): Pick<EngineRunOptions, "onEvent" | "onStderrLine"> {
  const debug = process.env.DANLU_DEBUG === "1";
  const onEvent = (event: EngineEvent): void => {
    if (event.event === "log" && (debug || event.level === "warning" || event.level === "error")) {
      process.stderr.write(`${event.level}: ${event.message}\n`);
    }
  };
  return debug ? { onEvent, onStderrLine: (line) => process.stderr.write(`engine: ${line}\n`) } : { onEvent };
}
