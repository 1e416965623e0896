import { mkdir, readdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { CAPTION_EXTENSIONS } from "../images.ts";
import { NameAllocator } from "../import/names.ts";
import { readManifest, writeManifest } from "../manifest.ts";
import type { CheckReport } from "./index.ts";

/** Where `--fix` puts what it takes out of a dataset: a dataset folder of its own, with its own manifest. */
export const REJECTED_DIR = "_rejected";

export interface FixAction {
  file: string;
  movedTo: string;
  reason: string;
}

/**
 * The safe actions of `danlu data check --fix`: the worse image of each near-duplicate pair, blurry
 * images and unreadable files are moved (never deleted) into DIR/_rejected/ with their captions; the
 * manifest record moves with them and says why. Check results are stored in DIR's manifest.
 */
export async function applyFixes(report: CheckReport): Promise<FixAction[]> {
  const dir = report.dir;
  const rejectedDir = join(dir, REJECTED_DIR);
  const manifest = await readManifest(dir);
  for (const image of report.images) {
    const record = manifest.images[image.file];
    if (record && !image.error)
      record.check = { sharpness: image.sharpness, phash: image.phash, faces: image.faces };
  }
  const reasons = rejectReasons(report);
  const actions: FixAction[] = [];
  if (reasons.size > 0) {
    await mkdir(rejectedDir, { recursive: true });
    const rejected = await readManifest(rejectedDir);
    const names = new NameAllocator(await readdir(rejectedDir));
    for (const [file, reason] of reasons) {
      const target = names.reserve(file.replace(/\.[^.]+$/, ""), file.slice(file.lastIndexOf(".")));
      await rename(join(dir, file), join(rejectedDir, target));
      await moveCaptions(dir, file, rejectedDir, target);
      const record = manifest.images[file];
      if (record) {
        rejected.images[target] = { ...record, rejected: { reason, at: new Date().toISOString() } };
        delete manifest.images[file];
      }
      actions.push({ file, movedTo: join(REJECTED_DIR, target), reason });
    }
    await writeManifest(rejectedDir, rejected);
  }
  await writeManifest(dir, manifest);
  return actions;
}

function rejectReasons(report: CheckReport): Map<string, string> {
  const reasons = new Map<string, string>();
  for (const image of report.images) {
    if (image.flags.includes("unreadable")) reasons.set(image.file, `unreadable: ${image.error ?? ""}`);
  }
  for (const pair of report.duplicates) {
    reasons.set(pair.drop, `near-duplicate of ${pair.keep} (pHash distance ${pair.distance})`);
  }
  for (const image of report.images) {
    if (image.flags.includes("blurry") && !reasons.has(image.file)) {
      reasons.set(image.file, `blurry: sharpness ${image.sharpness} < ${report.settings.blurThreshold}`);
    }
  }
  return reasons;
}

async function moveCaptions(dir: string, file: string, rejectedDir: string, target: string): Promise<void> {
  const stem = file.replace(/\.[^.]+$/, "");
  const targetStem = target.replace(/\.[^.]+$/, "");
  for (const ext of CAPTION_EXTENSIONS) {
    const from = join(dir, stem + ext);
    if (
      await stat(from).then(
        (info) => info.isFile(),
        () => false,
      )
    ) {
      await rename(from, join(rejectedDir, targetStem + ext));
    }
  }
}
