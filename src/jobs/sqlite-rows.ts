/**
 * The embedded backend's table: its schema, how a row reads as a JobRecord, and a statement cache
 * (workers run the same few statements every poll).
 */
import type Database from "better-sqlite3";
import type { JobProgress, JobRecord, JobState } from "./types.ts";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  kind TEXT NOT NULL,
  params TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  progress TEXT,
  result TEXT,
  error TEXT,
  worker_id TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  lease_token TEXT,
  lease_expires_at INTEGER,
  run_after INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, state);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at);
`;

/** The error JSON of a cancelled job. */
export const CANCELLED_JSON = JSON.stringify({ code: "CANCELLED", message: "cancelled" });

interface JobRow {
  id: string;
  owner: string;
  kind: string;
  params: string;
  state: JobState;
  priority: number;
  attempts: number;
  max_attempts: number;
  progress: string | null;
  result: string | null;
  error: string | null;
  worker_id: string | null;
  cancel_requested: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

export function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    owner: row.owner,
    kind: row.kind,
    params: parse(row.params) as Record<string, unknown>,
    state: row.state,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    progress: parse(row.progress) as JobProgress | null,
    result: parse(row.result),
    error: parse(row.error) as JobRecord["error"],
    workerId: row.worker_id,
    cancelRequested: row.cancel_requested === 1,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export type Statements = (sql: string) => Database.Statement;

/** Prepares each SQL text once per connection. */
export function statements(db: Database.Database): Statements {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) cache.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
}

export function selectRecord(sql: Statements, id: string): JobRecord | null {
  const row = sql("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
  return row ? toRecord(row) : null;
}

export function selectRecords(sql: Statements, query: string, args: unknown[]): JobRecord[] {
  return (sql(query).all(...args) as JobRow[]).map(toRecord);
}
