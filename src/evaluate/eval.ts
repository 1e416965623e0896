import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EngineEvent } from "../engine/protocol.ts";
import { loadFaceAnalyzer } from "../faces/index.ts";
import { driftOf, isBlack } from "./drift.ts";
import { planEvalJobs, type EvalJobs } from "./eval-plan.ts";
import { generateJobs, gridPrompt, nextNumberedDir, type EngineChoices } from "./generate-cells.ts";
import { baseSettings, chooseAxes, loraLookup, samplePresets } from "./grid.ts";
import { jobFor, planGrid, type CellSettings, type GridPlan } from "./grid-plan.ts";
import { renderGrids } from "./grid-render.ts";
import { identityScores, trainingFaces } from "./identity.ts";
import { lossByEpoch, parseValLossCsv, readLossCsv, withValidation, type ValRow } from "./loss.ts";
import { recommendEpoch, type EpochScores } from "./recommend.ts";
import { writeReport, type EvalFindings } from "./report.ts";
import { readRunFolder, triggerOf, type RunFolder } from "./run-folder.ts";

export interface EvalOptions extends EngineChoices {
  runDir: string;
  name?: string;
  out?: string;
  /** Images per prompt for identity and drift (seeds seed, seed+1, ...). */
  seeds: number;
  /** "auto": measure identity when most training images have a face. */
  face: "auto" | "on" | "off";
  clipSkip: number;
  onEvent?: (event: EngineEvent) => void;
  onPlan?: (images: number) => void;
  onNote?: (text: string) => void;
}

/** `danlu eval`'s choices when not told: two images per prompt, identity when the run looks like a face LoRA. */
export const EVAL_DEFAULTS = { seeds: 2, face: "auto" } as const satisfies Partial<EvalOptions>;

export interface EvalResult {
  dir: string;
  findings: EvalFindings;
  report: { markdown: string; html: string };
}

/** Checked training images (not regularization), at most this many, give the reference faces. */
const MAX_REFERENCE_IMAGES = 40;
/** A base model file under this size is a test model (a real SD1.5 checkpoint is ~2 GB). */
const TEST_MODEL_BYTES = 200 * 1024 * 1024;

function weakModelNote(run: RunFolder, base: CellSettings, modelPath: string): string | null {
  let size = Infinity;
  try {
    size = statSync(modelPath).size;
  } catch {
    // a diffusers folder: no single size to judge by
  }
  if (size < TEST_MODEL_BYTES) {
    return `The base model (${(size / 1e6).toFixed(1)} MB) is a tiny test model with random weights: its images are noise, so no score here says anything about a real LoRA.`;
  }
  if (Math.min(base.width, base.height) < 256) {
    return `Images are drawn at ${base.width}x${base.height} px: too small for faces to be found reliably.`;
  }
  return run.epochs.length < 2 ? "Only one epoch was saved: there is nothing to choose between." : null;
}

async function faceReference(run: RunFolder, face: EvalOptions["face"]) {
  if (face === "off")
    return { reference: [] as Float32Array[], note: "Identity was not measured (--face off)." };
  const files = run.spec.images.filter((image) => !image.is_reg).map((image) => image.path);
  const unique = [...new Set(files)].slice(0, MAX_REFERENCE_IMAGES);
  const analyzer = await loadFaceAnalyzer();
  const reference = await trainingFaces(analyzer, unique);
  const share = unique.length === 0 ? 0 : reference.length / unique.length;
  const facey = face === "on" ? reference.length > 0 : share >= 0.5;
  const found = `${reference.length} of ${unique.length} training images have a face`;
  return facey
    ? { reference, note: `${found}: identity is measured against them.` }
    : {
        reference: [],
        note: `${found}, so this is not treated as a face LoRA and identity is not measured.`,
      };
}

/** Evaluates every saved epoch of a run: draws in one engine run, scores, writes report.md/html. */
export async function runEval(options: EvalOptions): Promise<EvalResult> {
  const run = readRunFolder(options.runDir, options.name);
  const trigger = triggerOf(run);
  const presets = samplePresets(run);
  const gridOptions = {
    target: run.dir,
    clipSkip: options.clipSkip,
    device: options.device,
    precision: options.precision,
    prompt: presets.size === 0 && trigger ? `a photo of ${trigger}` : undefined,
  };
  const base = baseSettings(gridOptions, presets);
  const plan: GridPlan = planGrid(chooseAxes(gridOptions, run, presets), base, presets);
  const { reference, note: faceNote } = await faceReference(run, options.face);
  const context = { loraFor: loraLookup(run, null), parsePrompt: gridPrompt, clipSkip: options.clipSkip };
  const evalJobs = planEvalJobs({
    run,
    trigger,
    base,
    seeds: options.seeds,
    withIdentity: reference.length > 0,
    toJob: (settings, prefix, count) => ({
      ...jobFor({ x: 0, y: 0, z: 0, settings, prefix }, context),
      batch_count: count,
    }),
  });
  const jobs = [...plan.cells.map((cell) => jobFor(cell, context)), ...evalJobs.jobs];
  options.onPlan?.(jobs.reduce((sum, job) => sum + job.batch_count * job.batch_size, 0));
  const dir = resolve(options.out ?? nextNumberedDir(join(run.dir, "evals"), "eval"));
  const model = { path: run.spec.model.path, arch: run.spec.model.arch, vaePath: run.spec.model.vae_path };
  const images = await generateJobs(jobs, model, join(dir, "images"), options, options.onEvent);
  const grids = await renderGrids(
    plan,
    dir,
    (cell) => images.get(cell.prefix)?.[0] ?? null,
    `run ${run.name}`,
  );

  const valRows = run.valLossCsv ? parseValLossCsv(readFileSync(run.valLossCsv, "utf8"), run.valLossCsv) : [];
  const scores = await scoreEpochs(run, evalJobs, images, reference, valRows);
  const recommendation = recommendEpoch(scores, { weakModel: weakModelNote(run, base, model.path) });
  const black = await blackImages(images);
  if (black.length > 0) {
    recommendation.caveats.unshift(
      `${black.length} of ${[...images.values()].flat().length} images came out black (the model produced NaN values, e.g. ${black[0]}): scores on them are meaningless.`,
    );
  }
  const findings: EvalFindings = {
    runName: run.name,
    runDir: run.dir,
    modelPath: model.path,
    faceNote,
    driftPrompts: evalJobs.driftPrompts,
    scores,
    recommendation,
    lossRows: run.lossCsv ? readLossCsv(run.lossCsv) : [],
    valRows,
    grids,
    examples: examplesByEpoch(run, evalJobs, plan, images),
  };
  return { dir, findings, report: writeReport(findings, dir) };
}

async function scoreEpochs(
  run: RunFolder,
  evalJobs: EvalJobs,
  images: Map<string, string[]>,
  reference: Float32Array[],
  valRows: ValRow[],
): Promise<EpochScores[]> {
  const losses = withValidation(run.lossCsv ? lossByEpoch(readLossCsv(run.lossCsv)) : [], valRows);
  const analyzer = reference.length > 0 ? await loadFaceAnalyzer() : null;
  const filesOf = (prefixes: string[] | undefined) => (prefixes ?? []).flatMap((p) => images.get(p) ?? []);
  const baseDrift = filesOf(evalJobs.drift.get(0));
  const scores: EpochScores[] = [];
  for (const { epoch } of run.epochs) {
    const loraDrift = filesOf(evalJobs.drift.get(epoch));
    const pairs = loraDrift
      .map((lora, i) => ({ base: baseDrift[i] ?? "", lora }))
      .filter((p) => p.base !== "");
    const loss = losses.find((l) => l.epoch === epoch);
    scores.push({
      epoch,
      meanLoss: loss?.meanLoss ?? null,
      valLoss: loss?.valLoss ?? null,
      drift: await driftOf(pairs),
      identity: analyzer
        ? await identityScores(analyzer, reference, filesOf(evalJobs.identity.get(epoch)))
        : null,
    });
  }
  return scores;
}

async function blackImages(images: Map<string, string[]>): Promise<string[]> {
  const black: string[] = [];
  for (const path of [...images.values()].flat()) if (await isBlack(path)) black.push(path);
  return black;
}

/** One picture per epoch for the table: an identity image, else the grid's weight-1 cell. */
function examplesByEpoch(run: RunFolder, evalJobs: EvalJobs, plan: GridPlan, images: Map<string, string[]>) {
  const examples = new Map<number, string>();
  for (const { epoch } of run.epochs) {
    const identity = evalJobs.identity.get(epoch)?.[0];
    const cell = plan.cells.find((c) => c.settings.epoch === epoch && c.settings.weight === 1);
    const path = (identity && images.get(identity)?.[0]) ?? (cell && images.get(cell.prefix)?.[0]);
    if (path) examples.set(epoch, path);
  }
  return examples;
}
