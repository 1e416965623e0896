import { existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineEvent } from "../../engine/protocol.ts";
import { DataDir } from "../data-dir.ts";
import { checkName, notFound, safeJoin } from "../paths.ts";
import { jobKind } from "./index.ts";
import type { KindContext, UserPaths } from "./types.ts";

/**
 * For kind tests: a temporary data directory with one user, and kinds run in process the way a worker
 * runs them (params parsed by the kind's schema, one folder per job), recording what they report.
 */

export const USER = "u1";

/** The user's names inside `data`, as the service resolves them (checked names, no way out of the folders). */
export function testPaths(data: DataDir, userId: string): UserPaths {
  return {
    dataset(name) {
      const dir = safeJoin(data.datasetsDir(userId), checkName(name, "dataset"), "dataset");
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw notFound("dataset", name);
      return dir;
    },
    newDataset: (name) => safeJoin(data.datasetsDir(userId), checkName(name, "dataset"), "dataset"),
    model(name) {
      const path = safeJoin(data.modelsDir, checkName(name, "model"), "model");
      if (!existsSync(path)) throw notFound("model", name);
      return path;
    },
    jobFile(jobId, relPath) {
      const dir = data.jobDir(userId, jobId);
      if (!/^[\w-]+$/.test(jobId) || !existsSync(dir)) throw notFound("job", jobId);
      const path = safeJoin(dir, relPath, "file");
      if (!existsSync(path)) throw notFound("file", `${jobId}/${relPath}`);
      return path;
    },
  };
}

/** What one job reported, in order. */
export interface JobRecording {
  stages: string[];
  progress: { step: number; total: number }[];
  engine: EngineEvent[];
  logs: { message: string; level: string }[];
}

export interface RunOptions {
  jobId?: string;
  signal?: AbortSignal;
  attempt?: number;
  /** Sees each engine event as it arrives (e.g. to abort after a checkpoint). */
  onEngineEvent?: (event: EngineEvent) => void;
}

export class KindHarness {
  readonly data: DataDir;
  readonly recordings = new Map<string, JobRecording>();
  private jobs = 0;

  constructor(root = mkdtempSync(join(tmpdir(), "danlu-kinds-"))) {
    this.data = new DataDir(root).ensure();
  }

  get paths(): UserPaths {
    return testPaths(this.data, USER);
  }

  datasetDir(name: string): string {
    return this.data.datasetDir(USER, name);
  }

  jobDir(jobId: string): string {
    return this.data.jobDir(USER, jobId);
  }

  /** Parses `params` with the kind's schema and runs it as job `jobId` (a new id unless given). */
  async run(kindName: string, params: unknown, options: RunOptions = {}) {
    const kind = jobKind(kindName);
    const jobId = options.jobId ?? `job-${++this.jobs}`;
    const recording: JobRecording = this.recordings.get(jobId) ?? {
      stages: [],
      progress: [],
      engine: [],
      logs: [],
    };
    this.recordings.set(jobId, recording);
    const parsed = kind.params.parse(params);
    const runDir = this.jobDir(jobId);
    mkdirSync(runDir, { recursive: true });
    const ctx: KindContext = {
      userId: USER,
      jobId,
      attempt: options.attempt ?? 1,
      data: this.data,
      runDir,
      signal: options.signal ?? new AbortController().signal,
      paths: this.paths,
      stage: (name) => recording.stages.push(name),
      progress: (step, total) => recording.progress.push({ step, total }),
      engineEvent: (event) => {
        recording.engine.push(event);
        options.onEngineEvent?.(event);
      },
      log: (message, level = "info") => recording.logs.push({ message, level }),
    };
    const result = await kind.run(parsed, ctx);
    return { jobId, result, recording, runDir };
  }
}
