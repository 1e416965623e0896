import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import { z } from "zod";
import { ARCHS, samplePrompt } from "../engine/spec.ts";

/**
 * The parts of a run's logs/{name}/spec.json that grid and eval read. Loose on purpose: the training
 * spec gains keys as training grows, and an older or newer run folder should still be evaluable.
 */
const runSpecView = z.object({
  model: z.object({ path: z.string(), arch: z.enum(ARCHS).nullable(), vae_path: z.string().nullable() }),
  output: z.object({ dir: z.string(), name: z.string(), metadata: z.record(z.string(), z.string()) }),
  training: z.object({ epochs: z.number().int().positive(), clip_skip: z.number().int().positive() }),
  images: z.array(z.object({ path: z.string(), is_reg: z.boolean() })),
  epochs: z.array(z.array(z.object({ captions: z.array(z.string()) }))),
  sample: z.object({ prompts: z.array(samplePrompt) }),
});
export type RunSpecView = z.infer<typeof runSpecView>;

/** A finished (or cut) training run, read from its output_dir: what grid and eval work from. */
export interface RunFolder {
  dir: string;
  name: string;
  spec: RunSpecView;
  /** Saved LoRA files by epoch, ascending; the final `{name}.safetensors` counts as the last epoch. */
  epochs: { epoch: number; path: string }[];
  /** logs/{name}/loss.csv when the run kept one. */
  lossCsv: string | null;
  /** logs/{name}/val_loss.csv when the run kept a validation loss. */
  valLossCsv: string | null;
}

const EPOCH_FILE = /^(.+)-(\d{6})\.safetensors$/;

/** Reads `dir` as a danlu training output folder; `name` picks one run when several share the folder. */
export function readRunFolder(dir: string, name?: string): RunFolder {
  const root = resolve(dir);
  const logs = join(root, "logs");
  if (!existsSync(logs) || !statSync(logs).isDirectory()) {
    throw new DanluError(`${root} is not a danlu training output folder (no logs/ in it).`, {
      code: "NOT_A_RUN",
      hint: "pass the output_dir of a `danlu train` run (it holds logs/{output_name}/spec.json)",
    });
  }
  const names = readdirSync(logs).filter((entry) => existsSync(join(logs, entry, "spec.json")));
  const chosen = name ?? (names.length === 1 ? names[0] : undefined);
  if (chosen === undefined || !names.includes(chosen)) {
    throw new DanluError(
      names.length === 0
        ? `${logs} holds no run (no logs/{name}/spec.json).`
        : `${root} holds ${name ? `no run named '${name}'` : "several runs"}: ${names.join(", ")}.`,
      { code: "NOT_A_RUN", hint: names.length > 0 ? "choose one with --name" : undefined },
    );
  }
  const specPath = join(logs, chosen, "spec.json");
  const parsed = runSpecView.safeParse(JSON.parse(readFileSync(specPath, "utf8")));
  if (!parsed.success) {
    throw new DanluError(`${specPath} is not a training spec this danlu can read: ${parsed.error.message}`, {
      code: "NOT_A_RUN",
    });
  }
  const spec = parsed.data;
  const lossCsv = join(logs, chosen, "loss.csv");
  const valLossCsv = join(logs, chosen, "val_loss.csv");
  return {
    dir: root,
    name: chosen,
    spec,
    epochs: savedEpochs(root, chosen, spec.training.epochs),
    lossCsv: existsSync(lossCsv) ? lossCsv : null,
    valLossCsv: existsSync(valLossCsv) ? valLossCsv : null,
  };
}

function savedEpochs(dir: string, name: string, lastEpoch: number): RunFolder["epochs"] {
  const byEpoch = new Map<number, string>();
  for (const file of readdirSync(dir)) {
    const match = EPOCH_FILE.exec(file);
    if (match && match[1] === name) byEpoch.set(Number(match[2]), join(dir, file));
  }
  const final = join(dir, `${name}.safetensors`);
  if (existsSync(final) && !byEpoch.has(lastEpoch)) byEpoch.set(lastEpoch, final);
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([epoch, path]) => ({ epoch, path }));
}

/** The trigger word the run was given (modelspec.trigger_phrase), else the first caption token. */
export function triggerOf(run: RunFolder): string | null {
  const stated = run.spec.output.metadata["modelspec.trigger_phrase"];
  if (stated) return stated;
  const firstCaption = run.spec.epochs[0]?.[0]?.captions[0] ?? "";
  const first = firstCaption.split(",")[0]?.trim();
  return first ? first : null;
}
