import { BullmqJobQueue } from "./bullmq-queue.ts";
import type { DataDir } from "./data-dir.ts";
import { SqliteJobQueue } from "./sqlite-queue.ts";
import type { JobQueue } from "./types.ts";

/** The embedded SQLite queue in DATA/danlu.db, or BullMQ when a Redis URL is given: the one switch. */
export function openQueue(data: DataDir, redisUrl?: string | null): JobQueue {
  return redisUrl ? new BullmqJobQueue(redisUrl) : new SqliteJobQueue(data.dbPath);
}
