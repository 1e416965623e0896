import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cropDataset } from "../dataset/crop/index.ts";
import { listImages } from "../dataset/images.ts";
import { upscaleDataset } from "../dataset/upscale/index.ts";
import { parseCaption, formatCaption, type CaptionEntry } from "../tagging/edit/caption.ts";
import { tagFrequency } from "../tagging/edit/frequency.ts";
import { TAG_DEFAULTS, tagDataset, type ModelResolver } from "../tagging/tag-dataset.ts";

/**
 * Stage 3 of the portrait pipeline: the kept photos become a kohya training folder. Each photo gives two
 * crops, the face and the upper body (both square, the training shape), as FaceChain and EasyPhoto mix
 * them; what is under the training size is upscaled (at most 2x); every caption is the trigger word and
 * the class first, then the tags that vary between photos (a WD tagger's, when one is installed), never
 * the person's fixed traits, which the trigger word is to learn.
 */

export type PersonClass = "woman" | "man" | "person";

export interface PrepareOptions {
  /** The kept photos' folder and file names. */
  dir: string;
  files: readonly string[];
  /** Where the crops and the training folder go. */
  workDir: string;
  trigger: string;
  /** Unset: from the tagger's 1girl/1boy tags, else "person". */
  className?: PersonClass | undefined;
  /** A WD tagger (a name in the models folder, or a folder); unset: captions are trigger and class only. */
  tagger?: string | undefined;
  resolveModel?: ModelResolver;
  /** The training size: crops under it are upscaled. */
  resolution: number;
  /** Folder repeats ({repeats}_{trigger}); the preset's step count decides the length anyway. */
  repeats: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Prepared {
  /** The train_data_dir (holds one `{repeats}_{trigger}` folder). */
  trainDir: string;
  images: number;
  className: PersonClass;
  /** Tags left out of every caption as the person's fixed traits. */
  traits: string[];
  warnings: string[];
}

/** Tags in at least this share of the photos are the person's fixed traits. */
const TRAIT_SHARE = 0.6;
/** Tags that say how many people, not what varies. */
const COUNT_TAGS = new Set(["1girl", "1boy", "solo", "1other", "male focus", "female focus"]);

export async function preparePhotos(o: PrepareOptions): Promise<Prepared> {
  const kept = join(o.workDir, "kept");
  const crops = join(o.workDir, "crops");
  const trainDir = join(o.workDir, "train");
  const folder = join(trainDir, `${o.repeats}_${o.trigger}`);
  for (const dir of [kept, crops, trainDir]) await rm(dir, { recursive: true, force: true });
  await mkdir(kept, { recursive: true });
  for (const file of o.files) await copyFile(join(o.dir, file), join(kept, file));

  const total = o.files.length * 4; // two crops per photo, then each crop upscaled
  let done = 0;
  const step = () => o.onProgress?.(++done, total);
  for (const mode of ["face", "upper-body"] as const) {
    await cropDataset(kept, {
      outDir: crops,
      mode,
      margin: mode === "face" ? 0.6 : 0.3,
      aspect: 1,
      multi: "largest",
      onProgress: step,
    });
  }
  const upscaled = await upscaleDataset(crops, { outDir: folder, target: o.resolution, onProgress: step });
  const warnings = [...upscaled.warnings];

  const images = await listImages(folder);
  let tags = new Map<string, string[]>(images.map((file) => [file, []]));
  if (o.tagger && o.resolveModel) {
    await tagDataset(
      folder,
      { ...TAG_DEFAULTS, models: [o.tagger], captionTask: "caption" },
      { resolveModel: o.resolveModel },
    );
    tags = new Map(
      await Promise.all(
        images.map(async (file) => [file, parseCaption(await readCaption(folder, file))] as const),
      ),
    );
  } else {
    warnings.push(
      "no tagger installed: captions are the trigger word and the class only (danlu models pull wd-vit-tagger-v3 adds the tags that vary)",
    );
  }
  const entries: CaptionEntry[] = [...tags].map(([file, list]) => ({ file, tags: list }));
  const className = o.className ?? classFromTags(entries);
  const traits = tagFrequency(entries)
    .filter((count) => count.share >= TRAIT_SHARE && !COUNT_TAGS.has(count.tag))
    .map((count) => count.tag);
  const fixed = new Set([...traits, ...COUNT_TAGS, o.trigger, className]);
  for (const { file, tags: list } of entries) {
    const caption = formatCaption([o.trigger, className, ...list.filter((tag) => !fixed.has(tag))]);
    await writeFile(join(folder, captionName(file)), caption + "\n");
  }
  return { trainDir, images: images.length, className, traits, warnings };
}

const captionName = (file: string) => file.replace(/\.[^.]+$/, ".txt");

async function readCaption(dir: string, file: string): Promise<string> {
  return readFile(join(dir, captionName(file)), "utf8").catch(() => "");
}

/** woman or man when most photos' tags say 1girl or 1boy, else person. */
function classFromTags(entries: readonly CaptionEntry[]): PersonClass {
  const count = (tag: string) => entries.filter((e) => e.tags.includes(tag)).length;
  const half = entries.length / 2;
  if (count("1girl") > half) return "woman";
  if (count("1boy") > half) return "man";
  return "person";
}
