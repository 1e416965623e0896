import type { JobQueue, JobRecord } from "../jobs/types.ts";
import { ApiError } from "./http-error.ts";
import type { User } from "./users.ts";

/** A job the user may see: their own, or any for an admin; anything else is the same 404 as a missing one. */
export async function visibleJob(queue: JobQueue, user: User, id: string): Promise<JobRecord> {
  const job = await queue.get(id);
  if (!job || (job.owner !== user.id && user.role !== "admin")) {
    throw new ApiError(404, "NOT_FOUND", `job '${id}' not found`);
  }
  return job;
}
