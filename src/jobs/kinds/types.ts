import type { z } from "zod";
import type { EngineEvent } from "../../engine/protocol.ts";
import type { DataDir } from "../data-dir.ts";

/** Resolves the names a job's params use to paths inside the data directory, for one user. */
export interface UserPaths {
  /** An existing dataset folder of this user (NOT_FOUND DanluError otherwise). */
  dataset(name: string): string;
  /** A dataset folder of this user that may not exist yet (a kind's output); the name is checked. */
  newDataset(name: string): string;
  /** A base model in DATA/models by file or folder name (NOT_FOUND otherwise). */
  model(name: string): string;
  /** A file inside one of this user's job folders, e.g. a LoRA a training job wrote (NOT_FOUND otherwise). */
  jobFile(jobId: string, relPath: string): string;
}

/** What a kind's run gets: where to write, how to report, and the user's paths. */
export interface KindContext {
  userId: string;
  jobId: string;
  /** 1 on the first attempt; more after a lost worker or a resume. */
  attempt: number;
  data: DataDir;
  /** This job's own folder (exists): every output goes here, so two jobs never share files. */
  runDir: string;
  signal: AbortSignal;
  paths: UserPaths;
  /** A named stage of the job (e.g. "caching latents", "training", "sampling"); shown in the job and its events. */
  stage(name: string): void;
  /** Progress within the current stage (images done, steps done). */
  progress(step: number, total: number, detail?: Record<string, number | string>): void;
  /** An engine event (progress, phase, sample, checkpoint, validation, log) passed to the event stream. */
  engineEvent(event: EngineEvent): void;
  /** A line for the job's log and event stream. */
  log(message: string, level?: "info" | "warning"): void;
}

/**
 * One job kind: the API's `POST /api/jobs {kind, params}` validates params with `params` (a strict zod
 * object whose descriptions go into the OpenAPI document) and a worker calls `run`, which calls the same
 * library function as the CLI command. Paths in the result are relative to the job's folder.
 */
export interface JobKind<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  /** One line: what it does and which CLI command it matches. */
  summary: string;
  params: z.ZodType<P>;
  /** Runs the Python engine (a GPU job: one at a time per GPU). */
  usesEngine: boolean;
  run(params: P, ctx: KindContext): Promise<Record<string, unknown>>;
}
