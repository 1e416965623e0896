import { existsSync, statSync } from "node:fs";
import type { DataDir } from "./data-dir.ts";
import type { UserPaths } from "./kinds/types.ts";
import { checkName, notFound, safeJoin } from "./paths.ts";

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A user's names resolved inside the data directory; anything else (or another user's) is NOT_FOUND. */
export function userPaths(data: DataDir, userId: string): UserPaths {
  return {
    dataset(name) {
      checkName(name, "dataset");
      const dir = data.datasetDir(userId, name);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw notFound("dataset", name);
      return safeJoin(data.datasetsDir(userId), name, "dataset");
    },
    newDataset(name) {
      checkName(name, "dataset");
      return safeJoin(data.datasetsDir(userId), name, "dataset");
    },
    model(name) {
      checkName(name, "model");
      const path = safeJoin(data.modelsDir, name, "model");
      if (!existsSync(path)) throw notFound("model", name);
      return path;
    },
    jobFile(jobId, relPath) {
      if (!JOB_ID.test(jobId)) throw notFound("job", jobId);
      const dir = data.jobDir(userId, jobId);
      if (!existsSync(dir)) throw notFound("job", jobId);
      const path = safeJoin(dir, relPath, "file");
      if (!existsSync(path)) throw notFound("file", `${jobId}/${relPath}`);
      return path;
    },
  };
}
