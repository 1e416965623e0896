import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The service's data directory, shared by the server and every worker (all nodes mount it):
 *   danlu.db                         users (token hashes) and, on the embedded backend, the jobs
 *   models/                          base checkpoints the admin puts there (params name them by file name)
 *   users/<userId>/datasets/<name>/  a user's datasets (danlu data import layout: images, captions, manifest.json)
 *   users/<userId>/jobs/<jobId>/     one folder per job: its outputs, events.jsonl, job.log
 *   cache/thumbs/                    thumbnails the server made
 * Ids and names are checked before they reach a path (paths.ts); this class only joins.
 */
export class DataDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Creates the top-level folders (idempotent). */
  ensure(): this {
    for (const dir of [this.root, this.modelsDir, join(this.root, "users"), this.thumbsDir])
      mkdirSync(dir, { recursive: true });
    return this;
  }

  get dbPath(): string {
    return join(this.root, "danlu.db");
  }
  get modelsDir(): string {
    return join(this.root, "models");
  }
  get thumbsDir(): string {
    return join(this.root, "cache", "thumbs");
  }
  userDir(userId: string): string {
    return join(this.root, "users", userId);
  }
  datasetsDir(userId: string): string {
    return join(this.userDir(userId), "datasets");
  }
  datasetDir(userId: string, name: string): string {
    return join(this.datasetsDir(userId), name);
  }
  jobDir(userId: string, jobId: string): string {
    return join(this.userDir(userId), "jobs", jobId);
  }
  eventsPath(userId: string, jobId: string): string {
    return join(this.jobDir(userId, jobId), "events.jsonl");
  }
}
