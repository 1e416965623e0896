import { copyFile, mkdir, rm } from "node:fs/promises";
import { basename, extname, join, relative, resolve } from "node:path";
import { loadTrainLayers, type TrainConfig, type TrainConfigLayer } from "../config/index.ts";
import { importImages, type ImportReport } from "../dataset/import/index.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { GenerateSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { loadFaceAnalyzer } from "../faces/index.ts";
import { detailFaces, type DetailOptions, type GeneratedImage } from "../generate/detailer.ts";
import { buildGenerateSpec, runGenerate } from "../generate/gen.ts";
import type { ModelResolver } from "../tagging/tag-dataset.ts";
import { prepareRun } from "../training/run.ts";
import { preparePhotos, type PersonClass } from "./prepare.ts";
import { rankCandidates, type RankedImage } from "./rank.ts";
import { writeReport } from "./report.ts";
import { selectPhotos, type DroppedPhoto, type KeptPhoto, type SelectOptions } from "./select.ts";
import { loadStyles, pickStyles, renderPrompt, type Style } from "./styles.ts";
import { trainPortrait } from "./train-batcher.ts";

/**
 * `danlu portrait`: a customer's selfies in, ranked portraits out. Every stage is named (the job's event
 * stream shows it) and timed (the result and the report give the seconds).
 */

export const PORTRAIT_STAGES = [
  "import",
  "select",
  "prepare",
  "train",
  "generate",
  "rank",
  "report",
] as const;
export type PortraitStage = (typeof PORTRAIT_STAGES)[number];

export interface PortraitOptions {
  /** Photos, folders and zips (as `danlu data import` takes them). */
  sources: readonly string[];
  /** The result folder. */
  out: string;
  /** The SD1.5 base checkpoint (file or diffusers folder). */
  model: string;
  /** Style names (unset: every style). */
  styles?: readonly string[] | undefined;
  /** The user's own style templates, added to the shipped ones. */
  stylesDir?: string | undefined;
  /** Portraits returned per style. */
  count: number;
  /** Candidates generated per style (at least count). */
  candidates: number;
  trigger: string;
  className?: PersonClass | undefined;
  tagger?: string | undefined;
  resolveModel?: ModelResolver;
  /** Where a style's ControlNet and preprocessor models are found by name (default: danlu's models folder;
   * the service's is DATA/models). */
  modelsDir?: string | undefined;
  /** Settings over the portrait preset (a config file's or a job's). */
  train?: TrainConfigLayer;
  /** Generation overrides of every style (tests and quick looks: a small size, few steps). */
  gen?: {
    steps?: number | undefined;
    width?: number | undefined;
    height?: number | undefined;
    seed?: number | undefined;
  };
  device: "auto" | "cpu" | "cuda";
  precision: "no" | "fp16" | "bf16";
  select?: SelectOptions;
  signal?: AbortSignal;
  onStage?: (stage: PortraitStage) => void;
  onProgress?: (done: number, total: number) => void;
  onLog?: (line: string, level?: "info" | "warning") => void;
  onEngineEvent?: (event: EngineEvent) => void;
}

export const PORTRAIT_DEFAULTS = {
  count: 4,
  candidates: 8,
  trigger: "dlperson",
  device: "auto",
  precision: "no",
} as const;

export interface StyleResult {
  name: string;
  title: string;
  title_zh: string;
  prompt: string;
  /** The top `count`, best first, relative to the result folder. */
  portraits: RankedImage[];
  /** Every candidate with its score, best first. */
  candidates: RankedImage[];
}

export interface PortraitResult {
  out: string;
  lora: string;
  trigger: string;
  class: PersonClass;
  photos: {
    imported: number;
    kept: (Omit<KeptPhoto, "face"> & { face_px: number })[];
    dropped: DroppedPhoto[];
    rejected: { file: string; reason: string }[];
  };
  training_images: number;
  styles: StyleResult[];
  /** Seconds per stage, and in all. */
  seconds: Record<PortraitStage | "total", number>;
  report: string;
  warnings: string[];
}

export async function runPortrait(o: PortraitOptions): Promise<PortraitResult> {
  const started = performance.now();
  const out = resolve(o.out);
  const seconds = {} as Record<PortraitStage | "total", number>;
  const warnings: string[] = [];
  const log = (line: string, level: "info" | "warning" = "info") => {
    if (level === "warning") warnings.push(line);
    o.onLog?.(line, level);
  };
  const stage = async <T>(name: PortraitStage, work: () => Promise<T>): Promise<T> => {
    if (o.signal?.aborted) throw cancelled();
    o.onStage?.(name);
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      seconds[name] = Math.round((performance.now() - t0) / 10) / 100;
    }
  };
  if (o.count < 1 || o.candidates < o.count) {
    throw new DanluError(
      `--count ${o.count} and --candidates ${o.candidates}: need 1 <= count <= candidates`,
      {
        code: "BAD_ARGUMENT",
        hint: "e.g. --count 4 --candidates 8 (the best 4 of 8 per style)",
        exitCode: 2,
      },
    );
  }
  // the styles first: a broken template is an error before any work
  const styles = pickStyles(await loadStyles(o.stylesDir ? { userDir: o.stylesDir } : {}), o.styles);
  await mkdir(out, { recursive: true });
  const photosDir = join(out, "photos");
  const workDir = join(out, "work");

  const imported: ImportReport = await stage("import", async () => {
    await rm(photosDir, { recursive: true, force: true });
    return importImages(o.sources, { outDir: photosDir, onProgress: o.onProgress });
  });
  const rejected = imported.entries
    .filter((e) => e.status === "rejected" || e.status === "skipped")
    .map((e) => ({ file: basename(e.source), reason: e.reason ?? e.status }));
  for (const r of rejected) log(`not imported: ${r.file}: ${r.reason}`, "warning");

  const analyzer = await loadFaceAnalyzer();
  const selection = await stage("select", () =>
    selectPhotos(photosDir, analyzer, { ...o.select, ...(o.onProgress ? { onProgress: o.onProgress } : {}) }),
  );
  for (const d of selection.dropped) log(`dropped ${d.file}: ${d.detail}`);
  log(`kept ${selection.kept.length} photos of one person`);

  const loraDir = join(out, "lora");
  const settings = await trainSettings(o, join(workDir, "train"), loraDir);
  for (const w of settings.warnings) log(w, "warning");
  const config = settings.config;
  const resolution = Math.min(...config.resolution);
  const prepared = await stage("prepare", () =>
    preparePhotos({
      dir: photosDir,
      files: selection.kept.map((k) => k.file),
      workDir,
      trigger: o.trigger,
      className: o.className,
      tagger: o.tagger,
      ...(o.resolveModel ? { resolveModel: o.resolveModel } : {}),
      resolution,
      repeats: 10,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    }),
  );
  for (const w of prepared.warnings) log(w, "warning");

  const lora = await stage("train", () => train(o, config, log));

  const candidatesDir = join(out, "candidates");
  const generated = await stage("generate", () =>
    generate(o, styles, {
      lora,
      trigger: o.trigger,
      className: prepared.className,
      dir: candidatesDir,
      clipSkip: config.clip_skip,
      log,
    }),
  );

  const rel = (path: string) => relative(out, path).split("\\").join("/");
  const results: StyleResult[] = await stage("rank", async () => {
    const portraitsDir = join(out, "portraits");
    await rm(portraitsDir, { recursive: true, force: true });
    const list: StyleResult[] = [];
    for (const style of styles) {
      const ranked = await rankCandidates(generated.get(style.name) ?? [], selection.identity, analyzer);
      const top = ranked.slice(0, o.count);
      const portraits: RankedImage[] = [];
      for (const [i, image] of top.entries()) {
        const file = join(
          portraitsDir,
          style.name,
          `${String(i + 1).padStart(2, "0")}${extname(image.file)}`,
        );
        await mkdir(join(portraitsDir, style.name), { recursive: true });
        await copyFile(image.file, file);
        portraits.push({ ...image, file: rel(file) });
      }
      const failed = top.filter((image) => image.gate !== "ok").length;
      if (failed > 0)
        log(
          `${style.name}: ${failed} of the top ${o.count} failed the face check (see the report)`,
          "warning",
        );
      list.push({
        name: style.name,
        title: style.title,
        title_zh: style.titleZh,
        prompt: renderPrompt(style, o.trigger, prepared.className),
        portraits,
        candidates: ranked.map((image) => ({ ...image, file: rel(image.file) })),
      });
    }
    return list;
  });

  const result: PortraitResult = {
    out,
    lora: rel(lora),
    trigger: o.trigger,
    class: prepared.className,
    photos: {
      imported: imported.counts.imported,
      kept: selection.kept.map(({ face, ...k }) => ({
        ...k,
        face_px: Math.round(Math.min(face.box.width, face.box.height)),
      })),
      dropped: selection.dropped,
      rejected,
    },
    training_images: prepared.images,
    styles: results,
    seconds,
    report: "report.html",
    warnings,
  };
  await stage("report", () => writeReport(out, result));
  seconds.total = Math.round((performance.now() - started) / 10) / 100;
  await writeReport(out, result); // again, with the total
  return result;
}

function cancelled(): DanluError {
  return new DanluError("the portrait run was cancelled", { code: "CANCELLED" });
}

/** The portrait preset, the caller's settings, then the run's paths. */
function trainSettings(o: PortraitOptions, trainDir: string, outputDir: string) {
  const fixed: TrainConfigLayer = {
    pretrained_model_name_or_path: resolve(o.model),
    train_data_dir: trainDir,
    output_dir: outputDir,
    output_name: "portrait",
    trigger_word: o.trigger,
  };
  return loadTrainLayers({ preset: "portrait", layers: [o.train ?? {}, fixed] });
}

async function train(
  o: PortraitOptions,
  config: TrainConfig,
  log: (line: string, level?: "info" | "warning") => void,
): Promise<string> {
  const hooks = {
    onEvent: (e: EngineEvent) => o.onEngineEvent?.(e),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  const prepared = await prepareRun(config, hooks);
  for (const w of [...prepared.dataset.warnings, ...prepared.plan.warnings]) log(w, "warning");
  log(prepared.report);
  // alone, or in one train-many engine with other portraits waiting (danlu worker --portrait-batch)
  const { result, groupSize } = await trainPortrait(config, prepared, {
    ...hooks,
    onNote: (text) => log(text, text.startsWith("warning") ? "warning" : "info"),
  });
  if (groupSize > 1) log(`trained with ${groupSize - 1} other portrait(s) in one engine (train-many)`);
  if (result.status === "cancelled") throw cancelled();
  return join(config.output_dir, `${config.output_name}.safetensors`);
}

/** Every style's candidates in one engine run (the model loads once); the files per style. */
async function generate(
  o: PortraitOptions,
  styles: readonly Style[],
  run: {
    lora: string;
    trigger: string;
    className: string;
    dir: string;
    clipSkip: number;
    log: (line: string) => void;
  },
): Promise<Map<string, string[]>> {
  await rm(run.dir, { recursive: true, force: true });
  const jobs: GenerateSpec["jobs"] = [];
  let spec: GenerateSpec | undefined;
  for (const style of styles) {
    const one = buildGenerateSpec({
      model: o.model,
      prompt: renderPrompt(style, run.trigger, run.className),
      negative: style.negative,
      loras: [`${run.lora}:1`, ...style.loras.map((l) => `${l.file}:${l.weight}`)],
      sampler: style.sampler,
      steps: o.gen?.steps ?? style.steps,
      cfg: style.cfg,
      width: o.gen?.width ?? style.width,
      height: o.gen?.height ?? style.height,
      seed: o.gen?.seed ?? style.seed ?? 1234,
      batchCount: o.candidates,
      batchSize: 1,
      clipSkip: run.clipSkip,
      ...(style.initImage ? { initImage: style.initImage } : {}),
      strength: style.strength,
      controlnets: style.controlnets,
      modelsDir: o.modelsDir,
      out: run.dir,
      device: o.device,
      precision: o.precision,
    });
    spec ??= one;
    jobs.push({ ...one.jobs[0]!, file_prefix: style.name });
  }
  if (!spec) return new Map();
  let drawn = 0;
  const total = jobs.length * o.candidates;
  const done = await runGenerate(
    { ...spec, jobs },
    (event) => {
      o.onEngineEvent?.(event);
      if (event.event === "sample") o.onProgress?.(++drawn, total);
    },
    { signal: o.signal, modelsDir: o.modelsDir },
  );
  if (done.status !== "done") throw cancelled();
  await detailStyles(o, styles, { ...spec, jobs }, (done.data?.images ?? []) as GeneratedImage[], run);
  const byStyle = new Map<string, string[]>();
  for (const style of styles) {
    byStyle.set(
      style.name,
      done.outputs.filter((file) => isStyleImage(basename(file), style.name)),
    );
  }
  return byStyle;
}

/** The engine names a job's images PREFIX-SEED.png; the prefix is the style's name. */
function isStyleImage(file: string, style: string): boolean {
  return file.startsWith(`${style}-`) && /^\d+\.png$/.test(file.slice(style.length + 1));
}

/**
 * The face pass over every style's candidates (on unless a template says `detail_faces = false`): one
 * detailFaces call per distinct setting, so styles that keep the defaults share one engine run.
 */
async function detailStyles(
  o: PortraitOptions,
  styles: readonly Style[],
  spec: GenerateSpec,
  images: GeneratedImage[],
  run: { trigger: string; className: string; log: (line: string) => void },
): Promise<void> {
  const groups = new Map<string, { options: DetailOptions; images: GeneratedImage[] }>();
  for (const [index, style] of styles.entries()) {
    if (style.detailFaces === false) continue;
    const { prompt, ...rest } = style.detailFaces;
    const options: DetailOptions = {
      ...rest,
      ...(prompt ? { prompt: renderPrompt({ prompt }, run.trigger, run.className) } : {}),
    };
    const key = JSON.stringify(options);
    const group = groups.get(key) ?? { options, images: [] };
    group.images.push(...images.filter((image) => image.job === index));
    groups.set(key, group);
  }
  for (const { options, images: group } of groups.values()) {
    await detailFaces(spec, group, options, {
      onEvent: (event) => {
        if (event.event !== "sample") o.onEngineEvent?.(event);
      },
      onLog: run.log,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  }
}
