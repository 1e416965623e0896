import sharp from "sharp";
import type { Manifest, ManifestImage } from "../../dataset/manifest.ts";
import { readImageFile, type ImageFile } from "./images.ts";
import type { TagCategory, TagLabel } from "./labels.ts";
import { preprocessForTagger } from "./preprocess.ts";
import type { WdTagger } from "./session.ts";
import type { Thresholds } from "./thresholds.ts";

/** The reading half of `tagFolder`: files in, decoded tagger inputs (or stored probabilities) out. */
export interface TaggerSlot {
  name: string;
  labels: TagLabel[];
  categories: ReadonlyMap<string, TagCategory>;
  thresholds: Thresholds;
  session: WdTagger;
}

export interface Prepared {
  file: ImageFile;
  entry: ManifestImage;
  /** Tagger name -> probabilities, from the manifest or (after inference) from the model. */
  probabilities: Map<string, Record<string, number>>;
  /** Preprocessed input per model input size, for the taggers that must run. */
  inputs: Map<number, Float32Array>;
}

export interface PrepareContext {
  dir: string;
  manifest: Manifest;
  slots: TaggerSlot[];
  reuseProbabilities: boolean;
  /** No tagger decodes the images (captions only): check each one decodes before captioning it. */
  checkDecodable: boolean;
  /** The buffer a batch's images are decoded into (see alternatingBuffers in tag-folder.ts). */
  batchBuffer: (batchIndex: number, size: number, count: number) => Float32Array;
  onReused: () => void;
  onFailed: (name: string, reason: string) => void;
}

/** Reads and decodes a batch; an image that fails is reported and left out. */
export async function prepareBatch(
  names: string[],
  batchIndex: number,
  c: PrepareContext,
): Promise<Prepared[]> {
  // One buffer per input size for the whole batch: each image is decoded straight into its slot.
  const buffers = new Map<number, Float32Array>();
  for (const size of new Set(c.slots.map((s) => s.session.inputSize))) {
    buffers.set(size, c.batchBuffer(batchIndex, size, names.length));
  }
  const slotOf = (size: number, index: number) =>
    buffers.get(size)!.subarray(index * size * size * 3, (index + 1) * size * size * 3);
  const prepared = await Promise.all(
    names.map(async (name, index) => {
      try {
        return await prepareImage(name, c, (size) => slotOf(size, index));
      } catch (error) {
        c.onFailed(name, (error as Error).message.split("\n")[0] ?? "");
        return undefined;
      }
    }),
  );
  return prepared.filter((p): p is Prepared => p !== undefined);
}

async function prepareImage(
  name: string,
  c: PrepareContext,
  slotFor: (size: number) => Float32Array,
): Promise<Prepared> {
  const file = await readImageFile(c.dir, name);
  const known = c.manifest.images[name];
  const entry = known ?? (await newManifestEntry(file));
  const probabilities = new Map<string, Record<string, number>>();
  const inputs = new Map<number, Float32Array>();
  for (const slot of c.slots) {
    const stored = entry.tags?.[slot.name];
    if (c.reuseProbabilities && stored && entry.sha256 === file.sha256) {
      probabilities.set(slot.name, stored);
      c.onReused();
    } else if (!inputs.has(slot.session.inputSize)) {
      const size = slot.session.inputSize;
      inputs.set(size, (await preprocessForTagger(file.bytes, size, slotFor(size))).pixels);
    }
  }
  // Captions only: decode fully here, so a broken file is skipped rather than failing the captioner's batch.
  if (c.checkDecodable) await sharp(file.bytes, { failOn: "error" }).raw().toBuffer();
  return { file, entry, probabilities, inputs };
}

/** An image that was not imported with `danlu data import` gets an entry when it is first tagged. */
async function newManifestEntry(file: ImageFile): Promise<ManifestImage> {
  const meta = await sharp(file.bytes).metadata();
  const size = meta.autoOrient ?? meta;
  return {
    source: file.path,
    sha256: file.sha256,
    width: size.width ?? 0,
    height: size.height ?? 0,
    imported_at: new Date().toISOString(),
  };
}
