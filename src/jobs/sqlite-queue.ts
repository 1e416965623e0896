/**
 * The embedded backend: one `jobs` table in a SQLite file that the server and every worker process open
 * (WAL, so readers never wait for the writer). A running job holds a lease (token + expiry) that its
 * worker renews (sqlite-leases.ts); an expired lease puts the job back in the queue.
 */
import Database from "better-sqlite3";
import { checkEnqueue, listLimit, newJobId, resolveWorkerOptions } from "./queue-common.ts";
import { SqliteLeases } from "./sqlite-leases.ts";
import {
  CANCELLED_JSON,
  SCHEMA,
  selectRecord,
  selectRecords,
  statements,
  type Statements,
} from "./sqlite-rows.ts";
import { SqliteQueueWorker } from "./sqlite-worker.ts";
import type { EnqueueInput, JobFilter, JobHandler, JobQueue, JobRecord } from "./types.ts";
import type { QueueWorker, WorkerOptions } from "./types.ts";

export class SqliteJobQueue implements JobQueue {
  readonly backend = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly sql: Statements;
  private readonly leases: SqliteLeases;
  private readonly workers = new Set<SqliteQueueWorker>();

  /** Opens (and creates when missing) the jobs table in `dbPath`; several processes may open one file. */
  constructor(dbPath: string) {
    this.db = new Database(dbPath);
    // Writers queue behind each other for up to 5 s instead of failing with SQLITE_BUSY.
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL survives a killed process; only an OS crash may lose the last commits.
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
    this.sql = statements(this.db);
    this.leases = new SqliteLeases(this.db, this.sql);
  }

  async enqueue(input: EnqueueInput): Promise<JobRecord> {
    const { priority, maxAttempts } = checkEnqueue(input);
    const id = newJobId();
    const now = Date.now();
    this.sql(
      `INSERT INTO jobs (id, owner, kind, params, state, priority, max_attempts, created_at, run_after)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)`,
    ).run(id, input.owner, input.kind, JSON.stringify(input.params), priority, maxAttempts, now, now);
    return selectRecord(this.sql, id)!;
  }

  async get(id: string): Promise<JobRecord | null> {
    return selectRecord(this.sql, id);
  }

  async list(filter: JobFilter = {}): Promise<JobRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const column of ["owner", "kind"] as const) {
      if (filter[column] === undefined) continue;
      where.push(`${column} = ?`);
      args.push(filter[column]);
    }
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return [];
      where.push(`state IN (${filter.states.map(() => "?").join(", ")})`);
      args.push(...filter.states);
    }
    // ties within one millisecond go by insertion order (rowid)
    const query = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
                   ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return selectRecords(this.sql, query, [...args, listLimit(filter)]);
  }

  async cancel(id: string): Promise<JobRecord | null> {
    this.sql(
      "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = ? WHERE id = ? AND state = 'queued'",
    ).run(Date.now(), CANCELLED_JSON, id);
    this.sql("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'").run(id);
    return selectRecord(this.sql, id);
  }

  async requeue(id: string): Promise<JobRecord | null> {
    this.sql(
      `UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, result = NULL, progress = NULL,
         cancel_requested = 0, worker_id = NULL, started_at = NULL, finished_at = NULL, run_after = ?
       WHERE id = ? AND state IN ('failed', 'cancelled')`,
    ).run(Date.now(), id);
    return selectRecord(this.sql, id);
  }

  startWorker(handler: JobHandler, options: WorkerOptions): QueueWorker {
    const resolved = resolveWorkerOptions(options);
    const worker = new SqliteQueueWorker(this.leases, handler, resolved, () => this.workers.delete(worker));
    this.workers.add(worker);
    return worker;
  }

  async reconcile(): Promise<number> {
    return this.db.transaction(() => this.leases.requeueExpired(Date.now())).immediate();
  }

  /** Closes this object's workers (aborting their jobs, which go back to the queue), then the file. */
  async close(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close({ abort: true })));
    if (this.db.open) this.db.close();
  }
}
