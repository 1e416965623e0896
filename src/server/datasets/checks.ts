import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { checkDataset, type CheckOptions, type CheckReport } from "../../dataset/check/index.ts";
import { listImages } from "../../dataset/images.ts";
import { writeFileAtomic } from "../../tagging/backup.ts";
import type { App, AppDeps } from "../app.ts";
import { ERRORS } from "../schemas.ts";
import { DatasetParam, datasetDir, json, once } from "./common.ts";

/**
 * `danlu data check` for the API. Its report is stored in DATASET/.danlu-check.json with a fingerprint of
 * the images (name, size, mtime): GET /images reuses it while the images are unchanged and runs the check
 * again (with the stored settings) once they change; POST /check runs it now, with settings of your choice.
 * A dot-file, so training, layout and the importer skip it.
 */

export const CHECK_FILE = ".danlu-check.json";
export const CHECK_FLAGS = [
  "unreadable",
  "small",
  "aspect",
  "blurry",
  "duplicate",
  "several-people",
] as const;

export type CheckSettings = CheckReport["settings"];

export interface StoredCheck {
  version: 1;
  fingerprint: string;
  checked_at: string;
  settings: CheckSettings;
  images: CheckReport["images"];
  summary: string[];
  seconds: number;
}

/** What the images are now: changes when one is added, removed, renamed or rewritten. */
export async function imagesFingerprint(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const file of await listImages(dir)) {
    const info = await stat(join(dir, file)).catch(() => null);
    hash.update(`${file}\0${info?.size ?? -1}\0${info?.mtimeMs ?? -1}\n`);
  }
  return hash.digest("hex");
}

export async function readStoredCheck(dir: string): Promise<StoredCheck | null> {
  try {
    const stored = JSON.parse(await readFile(join(dir, CHECK_FILE), "utf8")) as StoredCheck;
    return stored.version === 1 && Array.isArray(stored.images) ? stored : null;
  } catch {
    return null;
  }
}

const running = new Map<string, Promise<StoredCheck>>();

/** Runs the check and stores it; a second caller with the same folder and settings waits for the same run. */
export function runCheck(dir: string, options: CheckOptions = {}): Promise<StoredCheck> {
  return once(running, `${dir}\0${JSON.stringify(options)}`, async () => {
    const fingerprint = await imagesFingerprint(dir); // before: a change during the run leaves it stale
    const report = await checkDataset(dir, options);
    const stored: StoredCheck = {
      version: 1,
      fingerprint,
      checked_at: new Date().toISOString(),
      settings: report.settings,
      images: report.images,
      summary: report.summary,
      seconds: Math.round(report.seconds * 1000) / 1000,
    };
    // the dataset may have been deleted meanwhile: the answer stands, the cache is just not kept
    await writeFileAtomic(join(dir, CHECK_FILE), JSON.stringify(stored) + "\n").catch(() => undefined);
    return stored;
  });
}

/** The stored check while it matches the images; otherwise a new one (when `run`) or null. */
export async function currentCheck(dir: string, run: boolean): Promise<StoredCheck | null> {
  const stored = await readStoredCheck(dir);
  if (stored && stored.fingerprint === (await imagesFingerprint(dir))) return stored;
  return run ? runCheck(dir, stored?.settings ?? {}) : null;
}

const CheckBody = z
  .strictObject({
    min_side: z
      .number()
      .int()
      .min(1)
      .max(16384)
      .optional()
      .describe("flag 'small' under this short side (px); 512"),
    max_aspect: z
      .number()
      .min(1)
      .max(100)
      .optional()
      .describe("flag 'aspect' above this long/short ratio; 2"),
    blur_threshold: z.number().min(0).optional().describe("flag 'blurry' under this sharpness; 60"),
    duplicate_distance: z.number().int().min(0).max(64).optional().describe("pHash bits for 'duplicate'; 12"),
    detect_people: z.boolean().optional().describe("count faces and people ('several-people'); true"),
  })
  .openapi("CheckSettings");

export const CheckSummarySchema = z
  .object({
    checked_at: z.string(),
    settings: z.record(z.string(), z.unknown()),
    summary: z.array(z.string()).describe("one line per kind of problem: how many and what to do"),
    seconds: z.number(),
  })
  .openapi("CheckSummary");

export const checkSummary = (stored: StoredCheck) => ({
  checked_at: stored.checked_at,
  settings: stored.settings,
  summary: stored.summary,
  seconds: stored.seconds,
});

export function registerCheckRoute(app: App, deps: AppDeps): void {
  const route = createRoute({
    method: "post",
    path: "/api/datasets/{name}/check",
    summary:
      "run danlu data check now (flags: small, aspect, blurry, duplicate, several-people, unreadable) and " +
      "store it; GET /images shows the flags and reruns it with these settings when the images change",
    request: { params: DatasetParam, body: { ...json(CheckBody), required: false } },
    responses: { 200: { description: "the check's summary", ...json(CheckSummarySchema) }, ...ERRORS },
  });
  app.openapi(route, async (c) => {
    const dir = datasetDir(deps, c.get("user").id, c.req.valid("param").name);
    const body = c.req.valid("json");
    const stored = await runCheck(dir, {
      ...(body.min_side !== undefined ? { minSide: body.min_side } : {}),
      ...(body.max_aspect !== undefined ? { maxAspect: body.max_aspect } : {}),
      ...(body.blur_threshold !== undefined ? { blurThreshold: body.blur_threshold } : {}),
      ...(body.duplicate_distance !== undefined ? { duplicateDistance: body.duplicate_distance } : {}),
      ...(body.detect_people !== undefined ? { detectPeople: body.detect_people } : {}),
    });
    return c.json(checkSummary(stored), 200);
  });
}
