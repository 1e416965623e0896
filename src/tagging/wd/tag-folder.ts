import { readManifest, writeManifest, type Manifest } from "../../dataset/manifest.ts";
import { DanluError } from "../../errors.ts";
import { captionPathFor, composeCaption, readCaption, writeCaption } from "../caption/caption-file.ts";
import type { ExistingCaption } from "../caption/caption-file.ts";
import type { Captioner } from "../caption/captioner.ts";
import { listImages } from "./images.ts";
import type { TagLabel } from "./labels.ts";
import { prepareBatch, type PrepareContext, type Prepared, type TaggerSlot } from "./prepare.ts";
import {
  categoryMap,
  formatTags,
  mergeSelections,
  selectTags,
  topRating,
  type FormatOptions,
  type ScoredTag,
} from "./select.ts";
import { loadWdTagger } from "./session.ts";
import { defaultThresholds, type Thresholds } from "./thresholds.ts";

/**
 * `danlu tag` as a library call: streams through a dataset folder in batches (the next batch is
 * decoded while the current one runs), tags each image with one or more WD taggers and optionally a
 * captioner, writes the caption file beside each image and keeps every tagger's probabilities in
 * DIR/manifest.json, so thresholds can change later without running the models again.
 */

/** Probabilities below this are not kept in the manifest (ratings are always kept). */
export const PROBABILITY_FLOOR = 0.05;
/** The manifest is saved every this many batches, so an interrupted run keeps most of its work. */
const SAVE_EVERY_BATCHES = 20;

export interface TaggerChoice {
  /** The key under which its probabilities are kept in the manifest. */
  name: string;
  folder: string;
  /** Overrides of the per-model defaults. */
  general?: number | undefined;
  character?: number | undefined;
}

export interface TagFolderOptions {
  dir: string;
  taggers: TaggerChoice[];
  captioner?: Captioner | undefined;
  format: FormatOptions;
  separator: string;
  existing: ExistingCaption;
  captionExtension: string;
  batchSize: number;
  recursive: boolean;
  /** Use probabilities already in the manifest (same file content) instead of running a tagger. */
  reuseProbabilities: boolean;
  threads?: number | undefined;
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface TagFolderReport {
  images: number;
  written: number;
  /** Image x tagger pairs answered from the manifest instead of the model. */
  reused: number;
  failed: { name: string; reason: string }[];
  /** Caption tag -> number of images it was written for. */
  tagCounts: Map<string, number>;
  thresholds: ({ name: string } & Thresholds)[];
}

export async function tagFolder(o: TagFolderOptions): Promise<TagFolderReport> {
  const names = await listImages(o.dir, o.recursive);
  const manifest = await readManifest(o.dir);
  const slots = await openTaggers(o);
  const report: TagFolderReport = {
    images: names.length,
    written: 0,
    reused: 0,
    failed: [],
    tagCounts: new Map(),
    thresholds: slots.map((s) => ({ name: s.name, ...s.thresholds })),
  };
  const context: PrepareContext = {
    dir: o.dir,
    manifest,
    slots,
    reuseProbabilities: o.reuseProbabilities,
    checkDecodable: slots.length === 0,
    batchBuffer: alternatingBuffers(),
    onReused: () => report.reused++,
    onFailed: (name, reason) => {
      report.failed.push({ name, reason });
      o.onProgress?.(report.written + report.failed.length, report.images, name);
    },
  };
  const prepare = (batch: string[], index: number) => prepareBatch(batch, index, context);
  const batches = chunk(names, Math.max(1, o.batchSize));
  try {
    let next = batches[0] ? prepare(batches[0], 0) : undefined;
    for (let i = 0; i < batches.length; i++) {
      const current = await next;
      const following = batches[i + 1];
      next = following ? prepare(following, i + 1) : undefined;
      next?.catch(() => undefined); // awaited on the next turn; this only marks it handled meanwhile
      await processBatch(current ?? [], o, slots, manifest, report);
      if (i % SAVE_EVERY_BATCHES === SAVE_EVERY_BATCHES - 1) await writeManifest(o.dir, manifest);
    }
  } finally {
    await writeManifest(o.dir, manifest);
    await Promise.all(slots.map((slot) => slot.session.dispose()));
  }
  return report;
}

async function openTaggers(o: TagFolderOptions): Promise<TaggerSlot[]> {
  const slots: TaggerSlot[] = [];
  try {
    for (const choice of o.taggers) {
      const session = await loadWdTagger(choice.folder, choice.name, { threads: o.threads });
      const labels = session.labels;
      slots.push({
        name: choice.name,
        labels,
        categories: categoryMap(labels),
        thresholds: thresholdsFor(choice),
        session,
      });
      checkReuseFloor(o, slots.at(-1)!.thresholds);
    }
    return slots;
  } catch (error) {
    await Promise.all(slots.map((slot) => slot.session.dispose()));
    throw error;
  }
}

/** The model's defaults unless the caller gave thresholds. */
function thresholdsFor(choice: TaggerChoice): Thresholds {
  const defaults = defaultThresholds(choice.name);
  return { general: choice.general ?? defaults.general, character: choice.character ?? defaults.character };
}

function checkReuseFloor(o: TagFolderOptions, t: Thresholds): void {
  if (o.reuseProbabilities && Math.min(t.general, t.character) < PROBABILITY_FLOOR) {
    throw new DanluError(`thresholds below ${PROBABILITY_FLOOR} cannot reuse stored probabilities`, {
      hint: `the manifest keeps probabilities from ${PROBABILITY_FLOOR} up; drop --reuse-probabilities`,
      code: "BAD_OPTION",
    });
  }
}

async function processBatch(
  batch: Prepared[],
  o: TagFolderOptions,
  slots: TaggerSlot[],
  manifest: Manifest,
  report: TagFolderReport,
): Promise<void> {
  if (batch.length === 0) return;
  for (const slot of slots) {
    const pending = batch.filter((p) => !p.probabilities.has(slot.name));
    if (pending.length === 0) continue;
    const rows = await slot.session.predict(pending.map((p) => p.inputs.get(slot.session.inputSize)!));
    pending.forEach((p, i) => p.probabilities.set(slot.name, keptProbabilities(slot.labels, rows[i]!)));
  }
  const sentences = o.captioner ? await o.captioner.caption(batch.map((p) => p.file.path)) : [];
  // Manifest entries are set in folder order; the caption files are then written together (one at a
  // time, each write would queue behind the next batch's image decoding in libuv's thread pool).
  const writes = batch.map((p, i) => {
    const tags = captionTags(p, slots, o.format);
    for (const tag of tags) report.tagCounts.set(tag, (report.tagCounts.get(tag) ?? 0) + 1);
    const stored = { ...p.entry.tags };
    for (const slot of slots) stored[slot.name] = p.probabilities.get(slot.name)!;
    manifest.images[p.file.name] = slots.length > 0 ? { ...p.entry, tags: stored } : p.entry;
    return writeCaptionFile(p, tags, sentences[i], o);
  });
  await Promise.all(writes);
  for (const p of batch) {
    report.written++;
    o.onProgress?.(report.written + report.failed.length, report.images, p.file.name);
  }
}

async function writeCaptionFile(
  p: Prepared,
  tags: string[],
  sentence: string | undefined,
  o: TagFolderOptions,
) {
  const path = captionPathFor(p.file.path, o.captionExtension);
  const existing = o.existing === "append" ? await readCaption(path) : undefined;
  await writeCaption(
    path,
    composeCaption({ sentence, tags, separator: o.separator, mode: o.existing, existing }),
  );
}

/** Merged selection of every tagger (union, highest probability), formatted for the caption. */
function captionTags(p: Prepared, slots: TaggerSlot[], format: FormatOptions): string[] {
  const selections: ScoredTag[][] = [];
  let rating: ScoredTag | undefined;
  for (const slot of slots) {
    const probabilities = p.probabilities.get(slot.name) ?? {};
    selections.push(selectTags(slot.categories, probabilities, slot.thresholds));
    const candidate = topRating(slot.categories, probabilities);
    if (candidate && (!rating || candidate.probability > rating.probability)) rating = candidate;
  }
  return formatTags(mergeSelections(selections), rating, format);
}

/** Ratings always, other tags from PROBABILITY_FLOOR up, rounded to 4 decimals (manifest size). */
export function keptProbabilities(labels: readonly TagLabel[], row: Float32Array): Record<string, number> {
  const kept: Record<string, number> = {};
  labels.forEach((label, i) => {
    const p = row[i] ?? 0;
    if (label.category === "rating" || p >= PROBABILITY_FLOOR) kept[label.name] = Math.round(p * 1e4) / 1e4;
  });
  return kept;
}

/**
 * Input buffers for batches: two per input size, used in turn. At most two batches are alive (the
 * one being run and the one being decoded), and reusing them spares allocating and zeroing
 * about 19 MB per batch of 8 at 448 px.
 */
function alternatingBuffers(): (batchIndex: number, size: number, count: number) => Float32Array {
  const buffers = new Map<string, Float32Array>();
  return (batchIndex, size, count) => {
    const key = `${batchIndex % 2}:${size}`;
    const length = count * size * size * 3;
    let buffer = buffers.get(key);
    if (!buffer || buffer.length < length) buffers.set(key, (buffer = new Float32Array(length)));
    return buffer.subarray(0, length);
  };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
