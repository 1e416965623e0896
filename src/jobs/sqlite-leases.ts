/**
 * What workers do to the jobs table: claim (reconciling expired leases first), renew, look for a
 * cancel, report progress, settle. Every write about a held job names its lease token, so a worker
 * whose lease was taken away changes nothing, and a job's end is recorded once.
 */
import type Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { WORKER_LOST } from "./errors.ts";
import { CANCELLED_JSON, selectRecord, type Statements } from "./sqlite-rows.ts";
import type { LeaseStore, Settlement } from "./sqlite-worker.ts";
import type { JobProgress, JobRecord } from "./types.ts";

const HELD = "WHERE id = ? AND lease_token = ? AND state = 'running'";
const EXPIRED = "WHERE state = 'running' AND lease_expires_at < ?";
const NO_LEASE = "lease_token = NULL, lease_expires_at = NULL";

export class SqliteLeases implements LeaseStore {
  constructor(
    private readonly db: Database.Database,
    private readonly sql: Statements,
  ) {}

  /** Expired leases: cancelled if asked, queued again while attempts remain, else failed WORKER_LOST. */
  requeueExpired(now: number): number {
    const { sql } = this;
    const release = `worker_id = NULL, ${NO_LEASE}`;
    const cancelled = sql(
      `UPDATE jobs SET state = 'cancelled', finished_at = ?, error = ?, ${release} ${EXPIRED} AND cancel_requested = 1`,
    ).run(now, CANCELLED_JSON, now).changes;
    const queued = sql(
      `UPDATE jobs SET state = 'queued', run_after = ?, ${release} ${EXPIRED} AND attempts < max_attempts`,
    ).run(now, now).changes;
    const failed = sql(
      `UPDATE jobs SET state = 'failed', finished_at = ?, error = ?, ${release} ${EXPIRED}`,
    ).run(now, JSON.stringify(WORKER_LOST), now).changes;
    return cancelled + queued + failed;
  }

  /**
   * In one write transaction: reconcile, then the highest-priority, oldest queued job that is due and
   * whose owner runs fewer than maxRunningPerUser jobs.
   */
  claim(
    workerId: string,
    leaseMs: number,
    maxRunningPerUser: number,
  ): { job: JobRecord; token: string } | null {
    const { sql } = this;
    const claimOne = this.db.transaction(() => {
      const now = Date.now();
      this.requeueExpired(now);
      const row = sql(
        `SELECT id FROM jobs AS j WHERE state = 'queued' AND run_after <= ?
           AND (SELECT COUNT(*) FROM jobs AS r WHERE r.owner = j.owner AND r.state = 'running') < ?
         ORDER BY priority DESC, created_at, rowid LIMIT 1`,
      ).get(now, maxRunningPerUser) as { id: string } | undefined;
      if (!row) return null;
      const token = randomUUID();
      sql(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?, worker_id = ?,
           started_at = ?, lease_expires_at = ? WHERE id = ?`,
      ).run(token, workerId, now, now + leaseMs, row.id);
      return { job: selectRecord(sql, row.id)!, token };
    });
    return claimOne.immediate();
  }

  renew(id: string, token: string, leaseMs: number): boolean {
    return (
      this.sql(`UPDATE jobs SET lease_expires_at = ? ${HELD}`).run(Date.now() + leaseMs, id, token)
        .changes === 1
    );
  }

  cancelRequested(id: string): boolean {
    const row = this.sql("SELECT cancel_requested FROM jobs WHERE id = ?").get(id) as
      { cancel_requested: number } | undefined;
    return row?.cancel_requested === 1;
  }

  saveProgress(id: string, token: string, progress: JobProgress): void {
    this.sql(`UPDATE jobs SET progress = ? ${HELD}`).run(JSON.stringify(progress), id, token);
  }

  settle(id: string, token: string, outcome: Settlement, retryAfterMs: number): boolean {
    const now = Date.now();
    const run = (set: string, ...args: unknown[]) =>
      this.sql(`UPDATE jobs SET ${set}, ${NO_LEASE} ${HELD}`).run(...args, id, token).changes === 1;
    switch (outcome.kind) {
      case "succeeded":
        return run("state = 'succeeded', result = ?, error = NULL, finished_at = ?", outcome.result, now);
      case "cancelled":
      case "failed":
        return run("state = ?, error = ?, finished_at = ?", outcome.kind, JSON.stringify(outcome.error), now);
      case "retry":
        return run(
          "state = 'queued', error = ?, run_after = ?, worker_id = NULL",
          JSON.stringify(outcome.error),
          now + retryAfterMs,
        );
      case "release":
        return run("state = 'queued', attempts = attempts - 1, run_after = ?, worker_id = NULL", now);
    }
  }
}
