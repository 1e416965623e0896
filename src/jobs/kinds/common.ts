import { existsSync } from "node:fs";
import { basename, extname, isAbsolute, relative, sep } from "node:path";
import { z } from "zod";
import type { EngineEvent } from "../../engine/protocol.ts";
import { DanluError } from "../../errors.ts";
import { checkName, notFound, safeJoin } from "../paths.ts";
import { JobCancelledError } from "../types.ts";
import type { JobKind, KindContext } from "./types.ts";

/** What every kind file shares: references to a user's files, result paths, engine hooks, cancellation. */

/** A file another job of this user wrote: `{job, file}` with the path its result gave. */
export const jobFileRef = z
  .strictObject({
    job: z.string().describe("id of one of your jobs"),
    file: z
      .string()
      .describe("a path inside that job's folder, as its result gives it (e.g. 'alice.safetensors')"),
  })
  .describe("a file one of your jobs wrote");

/** A folder or file in one of the user's datasets. */
export const datasetFileRef = z
  .strictObject({
    dataset: z.string().describe("one of your datasets"),
    file: z.string().optional().describe("a path inside the dataset (unset: the whole dataset folder)"),
  })
  .describe("one of your datasets, or a file in it");

export const fileRef = z.union([jobFileRef, datasetFileRef]);
export type FileRef = z.infer<typeof fileRef>;
export type JobFileRef = z.infer<typeof jobFileRef>;

/** The path a reference names (NOT_FOUND when it does not exist or leaves its folder). */
export function resolveRef(ctx: KindContext, ref: FileRef): string {
  if ("job" in ref) return ctx.paths.jobFile(ref.job, ref.file);
  const dir = ctx.paths.dataset(ref.dataset);
  if (ref.file === undefined) return dir;
  const path = safeJoin(dir, ref.file, "file");
  if (!existsSync(path)) throw notFound("file", `${ref.dataset}/${ref.file}`);
  return path;
}

/** A user mistake in a job's params: names the key, says what to do (the job fails at once, no retry). */
export function badParams(key: string, message: string, hint: string): DanluError {
  return new DanluError(`${key}: ${message}`, { code: "BAD_PARAMS", hint });
}

/** A file name a kind writes into its run folder: a checked name ending in `ext`. */
export function outputName(name: string, ext: string, key = "out"): string {
  checkName(name, key);
  if (extname(name).toLowerCase() !== ext)
    throw badParams(key, `'${name}' must end in ${ext}`, `e.g. ${basename(name, extname(name))}${ext}`);
  return name;
}

/** `path` as the result gives it: relative to the run folder, with '/' (never a server path). */
export function runRelative(ctx: KindContext, path: string): string {
  const rel = relative(ctx.runDir, path);
  if (rel.startsWith("..") || isAbsolute(rel)) return basename(path);
  return rel.split(sep).join("/");
}

/** A path in a message or result without the server's folders: relative to the user's own folder. */
export function userRelative(ctx: KindContext, path: string): string {
  const rel = relative(ctx.data.userDir(ctx.userId), path);
  return rel.startsWith("..") || isAbsolute(rel) ? basename(path) : rel.split(sep).join("/");
}

/** A library's message with the server's folders taken out (a user's own paths read from their folder). */
export function hidePaths(ctx: KindContext, text: string): string {
  return text.replaceAll(ctx.data.userDir(ctx.userId) + sep, "").replaceAll(ctx.data.root + sep, "");
}

/**
 * Engine run options for a job: every event to the job's stream, the job's cancel signal, and (for kinds
 * that draw images) `ctx.progress` per image.
 */
export function engineHooks(
  ctx: KindContext,
  images?: { total: () => number },
): { signal: AbortSignal; onEvent: (event: EngineEvent) => void } {
  let drawn = 0;
  return {
    signal: ctx.signal,
    onEvent: (event) => {
      ctx.engineEvent(event);
      if (images && event.event === "sample") ctx.progress(++drawn, images.total());
    },
  };
}

/** Library progress callbacks (done, total) to the job's progress. */
export function progressHook(ctx: KindContext): (done: number, total: number) => void {
  return (done, total) => ctx.progress(done, total);
}

/**
 * A kind whose run ends `cancelled` once the job's signal aborted: a library error caused by the abort
 * (the engine stopped, a "cancelled" DanluError) must not read as the user's mistake.
 */
export function defineKind<S extends z.ZodType<Record<string, unknown>>>(kind: {
  name: string;
  summary: string;
  params: S;
  usesEngine: boolean;
  run(params: z.output<S>, ctx: KindContext): Promise<Record<string, unknown>>;
}): JobKind<z.output<S>> {
  return {
    ...kind,
    params: kind.params as unknown as z.ZodType<z.output<S>>, // S is a ZodType whose output is exactly that
    async run(params, ctx) {
      if (ctx.signal.aborted) throw new JobCancelledError();
      try {
        return await kind.run(params, ctx);
      } catch (error) {
        if (ctx.signal.aborted && !(error instanceof JobCancelledError)) throw new JobCancelledError();
        throw error;
      }
    },
  };
}
