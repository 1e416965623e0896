import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DanluError } from "../errors.ts";
import { runGenerate } from "../generate/gen.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { Arch, GenJob, ParsedPrompt } from "../engine/spec.ts";
import { parsePrompt } from "../generate/prompt.ts";

/** How the engine runs: the same choices as `danlu gen`. */
export interface EngineChoices {
  device: "auto" | "cpu" | "cuda";
  precision: "no" | "fp16" | "bf16";
  /** Cancels the engine run (the drawing stops; nothing is rendered). */
  signal?: AbortSignal;
}

/**
 * A grid prompt in the engine's form. A `<lora:...>` tag is refused: the grid applies the run's LoRA
 * itself, and a tag it ignored would be a silent no-op.
 */
export function gridPrompt(text: string): ParsedPrompt {
  const parsed = parsePrompt(text);
  if (parsed.loras.length > 0) {
    throw new DanluError(`prompt '${text}' names a LoRA (<lora:${parsed.loras[0]?.name ?? ""}:...>).`, {
      code: "BAD_PROMPT",
      hint: "grid and eval apply the run's LoRA files themselves: remove the <lora:...> tag",
    });
  }
  return { text: parsed.text, sections: parsed.sections.length > 0 ? parsed.sections : [[]] };
}

/** The next free numbered folder `{parent}/{stem}-NNN` (each grid or eval keeps its own images). */
export function nextNumberedDir(parent: string, stem: string): string {
  const used = existsSync(parent)
    ? readdirSync(parent)
        .map((name) => new RegExp(`^${stem}-(\\d{3,})$`).exec(name)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
    : [];
  const next = Math.max(0, ...used) + 1;
  return join(parent, `${stem}-${String(next).padStart(3, "0")}`);
}

/**
 * Generates every job in ONE engine run (one model load) into `dir`; returns each job's images by
 * its file_prefix (`{dir}/{prefix}-{seed}.png` for seed, seed+1, ... batch_count x batch_size images).
 */
export async function generateJobs(
  jobs: GenJob[],
  model: { path: string; arch: Arch | null; vaePath: string | null },
  dir: string,
  engine: EngineChoices,
  onEvent: (event: EngineEvent) => void = () => undefined,
): Promise<Map<string, string[]>> {
  if (jobs.length === 0) return new Map();
  const result = await runGenerate(
    {
      version: 1,
      model: { path: model.path, arch: model.arch, v_prediction: null, vae_path: model.vaePath },
      device: engine.device,
      precision: engine.precision,
      embeddings: [],
      output: { dir },
      jobs,
    },
    onEvent,
    engine.signal ? { signal: engine.signal } : {},
  );
  const written = new Set(result.outputs);
  const paths = new Map<string, string[]>();
  for (const job of jobs) {
    const count = job.batch_count * job.batch_size;
    const files = Array.from({ length: count }, (_, i) =>
      join(dir, `${job.file_prefix}-${job.seed + i}.png`),
    );
    const missing = files.find((file) => !written.has(file));
    if (missing) throw new DanluError(`the engine did not write ${missing}.`, { code: "ENGINE_OUTPUT" });
    paths.set(job.file_prefix, files);
  }
  return paths;
}
