import { InvalidArgumentError, Option, type Command } from "commander";
import { loadTrainConfigFile } from "../config/load-file.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { resolveModel } from "../models-store/store.ts";
import { integer } from "./gen.ts";
import {
  PORTRAIT_DEFAULTS as D,
  PORTRAIT_STAGES,
  runPortrait,
  type PortraitResult,
} from "../portrait/pipeline.ts";
import { SELECT_DEFAULTS } from "../portrait/select.ts";
import { SHIPPED_STYLES_DIR } from "../portrait/styles.ts";

const HELP = `
What it does, stage by stage (each one is timed; the report shows the seconds):
  import    the photos, folders and zips, converted to PNG (broken files are named and skipped)
  select    one person's good photos: unreadable, small (under ${SELECT_DEFAULTS.minSide} px), blurry and duplicate
            photos dropped; one face per photo (a group photo is dropped unless one face clearly
            dominates); photos of somebody else dropped by face identity (dlib's descriptor)
  prepare   a face crop and an upper-body crop of each photo, upscaled to the training size (at
            most 2x), captioned "TRIGGER CLASS, <the tags that vary>" (tags need a WD tagger: --tagger)
  train     a LoRA with the portrait preset (danlu presets show portrait says why each setting)
  generate  --candidates images per style from the style templates, with the new LoRA
  rank      candidates ranked by face identity to the photos, behind a face check (one face, large,
            sharp); the best --count per style are kept
  report    OUT/report.html and OUT/result.json

Styles are TOML templates: the shipped ones are in ${SHIPPED_STYLES_DIR}
(id_photo, business, hanfu, watercolor, film, cyberpunk); --styles-dir adds yours (a file with a shipped
name replaces it). Copy a shipped file to start one.

OUT holds: photos/ (imported), work/train/ (the training set), lora/portrait.safetensors, candidates/,
portraits/STYLE/01.png... (best first), result.json, report.html.

Examples:
  danlu portrait selfies/ --model sd15.safetensors --out alice-portraits
  danlu portrait a.jpg b.jpg c.jpg d.jpg e.jpg --model sd15.safetensors --out out --styles id_photo,hanfu \\
      --count 4 --class woman --tagger wd-vit-tagger-v3
  danlu portrait selfies.zip --model sd15.safetensors --out out --config fast.toml   (training settings)`;

function size(text: string): { width: number; height: number } {
  const match = /^(\d+)(?:x(\d+))?$/.exec(text.trim());
  const width = Number(match?.[1]);
  const height = Number(match?.[2] ?? match?.[1]);
  if (!match || width % 8 !== 0 || height % 8 !== 0 || width < 64 || height < 64)
    throw new InvalidArgumentError("expected W or WxH in px, multiples of 8, at least 64 (e.g. 512x768)");
  return { width, height };
}

interface PortraitFlags {
  out: string;
  model: string;
  styles?: string;
  stylesDir?: string;
  count: number;
  candidates: number;
  trigger: string;
  class?: "woman" | "man" | "person";
  tagger?: string;
  modelsDir?: string;
  config?: string;
  minPhotos: number;
  genSteps?: number;
  size?: { width: number; height: number };
  seed?: number;
  device: "auto" | "cpu" | "cuda";
  precision: "no" | "fp16" | "bf16";
  json: boolean;
}

/** `danlu portrait`: selfies in, a LoRA and ranked portraits per style out. */
export function registerPortrait(program: Command): void {
  program
    .command("portrait")
    .description(
      "selfies in, ranked portraits out: select, crop, caption, train a LoRA, generate styles, rank",
    )
    .argument("<photos...>", "photos, folders of photos or zips of one person (about 10-20)")
    .requiredOption("--out <dir>", "the result folder")
    .requiredOption("--model <ckpt>", "SD1.5 base checkpoint (.safetensors/.ckpt) or diffusers folder")
    .option("--styles <names>", "comma-separated style names (default: every style)")
    .option("--styles-dir <dir>", "a folder of your own style templates (*.toml)")
    .option("--count <n>", "portraits kept per style", integer(1), D.count)
    .option(
      "--candidates <n>",
      "images generated per style (the best --count are kept)",
      integer(1),
      D.candidates,
    )
    .option("--trigger <word>", "the trigger word the LoRA learns", D.trigger)
    .addOption(
      new Option(
        "--class <class>",
        "the class word after the trigger (default: from the tagger's tags, else person)",
      ).choices(["woman", "man", "person"]),
    )
    .option("--tagger <name>", "a WD tagger (models folder name or folder) for the varying tags")
    .option("--models-dir <dir>", "where --tagger is found (default: danlu's models folder)")
    .option("--config <file>", "training settings over the portrait preset (a danlu config TOML)")
    .option("--min-photos <n>", "fewest good photos to train on", integer(1), SELECT_DEFAULTS.minPhotos)
    .option("--gen-steps <n>", "sampling steps for every style (default: each style's)", integer(1))
    .option("--size <WxH>", "image size for every style (default: each style's)", size)
    .option(
      "--seed <n>",
      "seed of each style's first candidate (default: the style's, else 1234)",
      integer(0),
    )
    .addOption(
      new Option("--device <device>", "where to run").choices(["auto", "cpu", "cuda"]).default(D.device),
    )
    .addOption(
      new Option("--precision <p>", "generation weights dtype (no = float32)")
        .choices(["no", "fp16", "bf16"])
        .default(D.precision),
    )
    .option("--json", "print result.json instead of the summary", false)
    .addHelpText("after", HELP)
    .action(async (photos: string[], flags: PortraitFlags) => portraitAction(photos, flags));
}

async function portraitAction(photos: string[], flags: PortraitFlags): Promise<void> {
  const say = (line: string) => process.stderr.write(line + "\n");
  let stageStart = performance.now();
  let current = "";
  let lastProgress = 0;
  const result = await runPortrait({
    sources: photos,
    out: flags.out,
    model: flags.model,
    styles: flags.styles
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    stylesDir: flags.stylesDir,
    count: flags.count,
    candidates: flags.candidates,
    trigger: flags.trigger,
    className: flags.class,
    tagger: flags.tagger,
    resolveModel: (name, kind) => resolveModel(name, kind, flags.modelsDir),
    modelsDir: flags.modelsDir,
    train: {
      ...(flags.config ? await loadTrainConfigFile(flags.config) : {}),
      ...(flags.device !== "auto" ? { device: flags.device } : {}),
    },
    gen: { steps: flags.genSteps, width: flags.size?.width, height: flags.size?.height, seed: flags.seed },
    device: flags.device,
    precision: flags.precision,
    select: { minPhotos: flags.minPhotos },
    onStage: (stage) => {
      if (current) say(`  ${current} done in ${((performance.now() - stageStart) / 1000).toFixed(1)} s`);
      current = stage;
      stageStart = performance.now();
      say(`[${PORTRAIT_STAGES.indexOf(stage) + 1}/${PORTRAIT_STAGES.length}] ${stage}`);
    },
    onProgress: (done, total) => {
      if (Date.now() - lastProgress < 2000 && done < total) return;
      lastProgress = Date.now();
      say(`  ${current}: ${done}/${total}`);
    },
    onLog: (line, level) => {
      if (level === "warning") say(`  warning: ${line}`);
      else if (!line.includes("\n")) say(`  ${line}`);
    },
    onEngineEvent: (event: EngineEvent) => {
      if (event.event === "progress" && Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        say(`  ${current}: step ${event.step}/${event.total_steps} loss ${event.loss.toFixed(4)}`);
      }
    },
  });
  if (current) say(`  ${current} done in ${((performance.now() - stageStart) / 1000).toFixed(1)} s`);
  if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else process.stdout.write(summary(result));
}

function summary(r: PortraitResult): string {
  const lines = [
    `kept ${r.photos.kept.length} photos, dropped ${r.photos.dropped.length + r.photos.rejected.length}:`,
    ...r.photos.dropped.map((d) => `  ${d.file}: ${d.detail}`),
    ...r.photos.rejected.map((d) => `  ${d.file}: not imported (${d.reason})`),
    `LoRA: ${r.out}/${r.lora} (trigger "${r.trigger} ${r.class}")`,
    ...r.styles.flatMap((s) => [
      `${s.name}:`,
      ...s.portraits.map(
        (p) => `  ${r.out}/${p.file}  score ${p.score.toFixed(3)}${p.gate === "ok" ? "" : ` (${p.gate})`}`,
      ),
    ]),
    `seconds: ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `report: ${r.out}/report.html`,
  ];
  return lines.join("\n") + "\n";
}
