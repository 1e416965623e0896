import type { Command } from "commander";
import {
  addTrainConfigOptions,
  configFromOptions,
  loadTrainLayers,
  type DatasetSubset,
  type TrainConfig,
} from "../config/index.ts";
import { writeKohyaExport } from "../config/kohya-export.ts";
import { PRESET_NAMES } from "../config/presets/index.ts";
import type { EngineRunResult } from "../engine/driver.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { readLoraInfo } from "../lora/lora-info.ts";
import type { ModuleKind } from "../lora/lora-keys.ts";
import { loadersLine } from "../lora/loaders.ts";
import { formatLoss, ProgressRenderer } from "../training/progress.ts";
import { logDirOf, prepareRun, runTraining } from "../training/run.ts";

interface TrainFlags {
  preset?: string;
  config?: string;
  kohyaConfig?: string;
  exportKohya?: string;
  resume?: string;
  json?: boolean;
  dryRun?: boolean;
  [flag: string]: unknown;
}

const EXAMPLES = `
Examples:
  danlu train --config run.toml
  danlu train --pretrained-model-name-or-path model.safetensors --train-data-dir train \\
      --output-dir out --output-name alice --network-dim 32 --network-alpha 16 --max-train-epochs 10
  danlu train --kohya-config sd-scripts-config.toml      (a kohya sd-scripts / kohya_ss config; its
                                                          dataset_config's [[datasets.subsets]] too)
  danlu train --config run.toml --dry-run                 (check the data and print the plan only)
  danlu train --config run.toml --resume out/alice-step00000120-state

train_data_dir holds {repeats}_{name} folders (e.g. 10_alice/) of images with caption files beside
them; steps = images x repeats x epochs / batch size. Ctrl-C saves a resumable state.`;

export function registerTrain(program: Command): void {
  const command = program
    .command("train")
    .description("train a LoRA (kohya-compatible file) on a train_data_dir of {repeats}_{name} folders")
    .option(
      "--preset <name>",
      `start from a guide's settings: ${PRESET_NAMES.join(", ")} (danlu presets show NAME)`,
    )
    .option("--config <file>", "danlu config TOML (keys as in `danlu config show`); flags override it")
    .option("--kohya-config <file>", "an sd-scripts training config TOML (its dataset_config is read too)")
    .option(
      "--export-kohya <file>",
      "write the resolved settings as an sd-scripts config TOML (and its dataset config) and stop",
    )
    .option(
      "--resume <state-dir>",
      "continue a run from a state folder it saved (Ctrl-C or --save-state): same settings and data, or more epochs",
    )
    .option("--json", "print the engine's events as JSON lines on stdout (for machines)")
    .option("--dry-run", "check the model kind and dataset, print the plan, and stop before training")
    .addHelpText("after", EXAMPLES);
  addTrainConfigOptions(command);
  command.action(async (flags: TrainFlags) => trainAction(flags));
}

/** The config from its layers (preset < kohya import < --config < flags), and a dataset config's subsets. */
async function loadLayers(flags: TrainFlags): Promise<{ config: TrainConfig; subsets: DatasetSubset[] }> {
  const { config, subsets, warnings } = await loadTrainLayers({
    preset: flags.preset,
    kohyaConfig: flags.kohyaConfig,
    configFile: flags.config,
    layers: [configFromOptions(flags)],
  });
  if (flags.preset) {
    process.stderr.write(
      `preset ${flags.preset} (danlu presets show ${flags.preset}; flags and files override it)\n`,
    );
  }
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  return { config, subsets };
}

async function trainAction(flags: TrainFlags): Promise<void> {
  const { config, subsets } = await loadLayers(flags);
  const prepared = await prepareRun(config, {
    subsets,
    dryRun: Boolean(flags.dryRun || flags.exportKohya),
    resume: flags.exportKohya ? null : (flags.resume ?? null),
  });
  const warnings = [
    ...prepared.dataset.warnings,
    ...prepared.plan.warnings,
    ...(prepared.resume?.warnings ?? []),
  ];
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  process.stderr.write(`${prepared.report}\n`);
  if (flags.exportKohya) {
    const options = { subsets, arch: prepared.arch, totalSteps: prepared.plan.totalSteps };
    for (const path of writeKohyaExport(flags.exportKohya, config, options))
      process.stdout.write(`wrote ${path}\n`);
    return;
  }
  if (flags.dryRun) return;

  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      process.stderr.write("\nstopping now (no state saved)\n");
      process.exit(130);
    }
    process.stderr.write("\ninterrupted: saving a resumable state (Ctrl-C again to stop at once)...\n");
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const renderer = new ProgressRenderer({ totalEpochs: prepared.plan.numEpochs });
  try {
    const result = await runTraining(config, prepared, {
      signal: controller.signal,
      onNote: (text) => renderer.note(text),
      onEvent: (event) => (flags.json ? printJson(event) : showEvent(renderer, event)),
    });
    renderer.finish();
    await printOutcome(config, result, flags);
  } catch (error) {
    renderer.finish(); // the error goes on a line of its own, not after the live progress line
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function printJson(event: EngineEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function showEvent(renderer: ProgressRenderer, event: EngineEvent): void {
  renderer.update(event);
  if (event.event === "checkpoint" && event.kind !== "state") renderer.note(`saved ${event.path}`);
  if (event.event === "checkpoint" && event.kind === "state") renderer.note(`saved state ${event.path}`);
  if (event.event === "sample") renderer.note(`sample ${event.path}`);
  if (event.event === "validation")
    renderer.note(`validation loss ${formatLoss(event.loss)} at step ${event.step} (${event.images} images)`);
  if (event.event === "log" && event.level !== "debug") renderer.note(`${event.level}: ${event.message}`);
  if (event.event === "ready") renderer.note(`engine ready on ${event.device} (${event.dtype})`);
}

async function printOutcome(config: TrainConfig, result: EngineRunResult, flags: TrainFlags): Promise<void> {
  const logs = logDirOf(config);
  if (result.status === "cancelled") {
    const again = result.stateDir
      ? `resume with: danlu train ${flags.config ? `--config ${flags.config} ` : "<same settings> "}--resume ${result.stateDir}`
      : "nothing was saved yet (it stopped before the first step)";
    process.stderr.write(`stopped at step ${result.step}; ${again}\nlogs: ${logs}\n`);
    process.exitCode = 130;
    return;
  }
  if (flags.json) return;
  const files = result.outputs.filter((path) => path.endsWith(".safetensors"));
  process.stdout.write(
    [
      `trained ${result.steps} steps in ${result.elapsedS.toFixed(1)} s`,
      ...files.map((file) => `  ${file}`),
      ...(files.length > 0 ? [await loadsIn(files.at(-1)!)] : []),
      `logs, loss history and the engine spec: ${logs}`,
      `inspect a file: danlu lora info ${files.at(-1) ?? "<file>"}`,
    ].join("\n") + "\n",
  );
}

/** Which tools load the file (its module kinds): diffusers does not read LyCORIS kinds. */
async function loadsIn(file: string): Promise<string> {
  const info = await readLoraInfo(file, { hash: false });
  return loadersLine(info.parts.flatMap((part) => Object.keys(part.kinds) as ModuleKind[]));
}
