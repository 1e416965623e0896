import { realpathSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { z } from "@hono/zod-openapi";
import { isImageFile } from "../../dataset/images.ts";
import { DanluError } from "../../errors.ts";
import { checkName, notFound, safeJoin } from "../../jobs/paths.ts";
import { userPaths } from "../../jobs/user-paths.ts";
import type { AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ErrorSchema } from "../schemas.ts";

/** Shared by the dataset routes: path parameters, name resolution, the per-dataset lock. */

import { json } from "../schemas.ts";

export { json };

const errorOf = (description: string) => ({ description, ...json(ErrorSchema) });
export const CONFLICT_ERROR = { 409: errorOf("already exists, or the state does not allow it") };
export const LINK_ERROR = { 409: errorOf("the dataset folder holds a link to outside it (LINK_OUTSIDE)") };
export const TOO_LARGE_ERROR = {
  413: errorOf("over a limit (per file, per request, per user); the limit is named"),
};

const nameParam = z
  .string()
  .openapi({ param: { name: "name", in: "path" }, example: "alice-photos", description: "dataset name" });
const fileParam = z.string().openapi({
  param: { name: "file", in: "path" },
  example: "photo.png",
  description: "an image file of the dataset, as GET /images lists it",
});

export const DatasetParam = z.object({ name: nameParam });
export const ImageParam = z.object({ name: nameParam, file: fileParam });

/** A user's existing dataset folder. A bad name, a missing folder or one that leaves the user's folder: 404. */
export function datasetDir(deps: AppDeps, userId: string, name: string): string {
  try {
    return userPaths(deps.data, userId).dataset(name);
  } catch (error) {
    if (error instanceof DanluError && error.code === "BAD_NAME") throw notFound("dataset", name);
    throw error;
  }
}

/** A new dataset's name, checked: a 400 naming the field when it cannot be a folder name. */
export function newDatasetName(name: string, field: string): string {
  try {
    return checkName(name, "dataset name");
  } catch (error) {
    if (!(error instanceof DanluError)) throw error;
    throw new ApiError(400, "BAD_NAME", error.message, {
      field,
      ...(error.hint ? { hint: error.hint } : {}),
    });
  }
}

/**
 * A file directly inside the dataset folder (no sub-folder, no hidden file), refused like a missing one
 * when it leaves the folder by name or through a symlink. `image`: it must be an image by its extension.
 */
export function datasetFile(dir: string, file: string, kind: "image" | "caption"): string {
  const plain = file !== "" && !/[/\\\0]/u.test(file) && !file.startsWith(".");
  if (!plain || (kind === "image" && !isImageFile(file))) throw notFound(kind, file);
  return safeJoin(dir, file, kind);
}

/** An existing image of the dataset (a regular file, after following any link that stays inside). */
export function existingImage(dir: string, file: string): string {
  const path = datasetFile(dir, file, "image");
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw notFound("image", file);
  return path;
}

/**
 * Refuses a dataset whose folder holds a symlink to outside it. The library reads captions and the
 * manifest by path, following links; the API never makes links, so one is someone's hand at the disk,
 * and following it could show another user's files.
 */
export async function refuseLinksOut(dir: string): Promise<void> {
  const root = realpathSync(dir);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    let target: string | null;
    try {
      target = realpathSync(join(dir, entry.name));
    } catch {
      target = null; // a dangling link reads as missing
    }
    const rel = target === null ? "" : relative(root, target);
    if (target !== null && (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))) {
      throw new ApiError(409, "LINK_OUTSIDE", `the dataset holds '${entry.name}', a link to outside it`, {
        hint: "an admin has to remove it from the dataset folder",
      });
    }
  }
}

/** DATA/cache/thumbs/<user>/<dataset>/ (names already checked). */
export function thumbsDirOf(deps: AppDeps, userId: string, dataset: string): string {
  return join(deps.data.thumbsDir, userId, dataset);
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` after every earlier call with the same key has finished: one writer per dataset folder
 * in this server (imports, caption batches and undo each read, then rewrite, the folder's files).
 */
export function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(work);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

/** Runs `work` once per key at a time: a second caller while it runs gets the same promise. */
export function once<T>(inflight: Map<string, Promise<T>>, key: string, work: () => Promise<T>): Promise<T> {
  const running = inflight.get(key);
  if (running) return running;
  const started = work().finally(() => inflight.delete(key));
  inflight.set(key, started);
  return started;
}

/** If-None-Match holds `etag` (one of a list, weak or strong). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//u, ""))
    .some((tag) => tag === etag || tag === "*");
}
