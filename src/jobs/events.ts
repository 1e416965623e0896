import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * A job's event stream: one JSON object per line in users/<u>/jobs/<id>/events.jsonl, appended by the
 * worker holding the job (any node: the file is on the shared data directory). An event's id is its
 * line number, so a client that reconnects with Last-Event-ID resumes exactly where it stopped.
 */
export const JOB_EVENT_TYPES = ["state", "stage", "progress", "engine", "log", "result", "error"] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

export interface JobEvent {
  /** 1-based line number. */
  id: number;
  type: JobEventType;
  /** Milliseconds since the Unix epoch. */
  at: number;
  data: Record<string, unknown>;
}

export class JobEventWriter {
  /** `redact` rewrites each serialized line (the worker takes the server's folders out of it). */
  constructor(
    readonly path: string,
    private readonly redact: (line: string) => string = (line) => line,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    // a worker killed mid-write leaves a partial line: end it so the next event starts a line of its own
    if (existsSync(path)) {
      const size = statSync(path).size;
      if (size > 0 && lastByte(path, size) !== 0x0a) appendFileSync(path, "\n");
    }
  }

  append(type: JobEventType, data: Record<string, unknown>): void {
    // one write call per line: appends from one process never interleave within a line
    appendFileSync(this.path, `${this.redact(JSON.stringify({ type, at: Date.now(), data }))}\n`);
  }
}

function lastByte(path: string, size: number): number {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(1);
    readSync(fd, buffer, 0, 1, size - 1);
    return buffer[0]!;
  } finally {
    closeSync(fd);
  }
}

/** Reads a job's events from a byte offset: the complete lines there, and where the next read starts. */
export class JobEventReader {
  private offset = 0;
  private lineNo = 0;

  constructor(readonly path: string) {}

  /** Events after line `afterId` that are complete now (a trailing partial line waits for the next call). */
  readNew(afterId = 0): JobEvent[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size <= this.offset) return [];
    const fd = openSync(this.path, "r");
    const buffer = Buffer.alloc(size - this.offset);
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0) return [];
    this.offset += end + 1;
    const events: JobEvent[] = [];
    for (const line of buffer.subarray(0, end).toString("utf8").split("\n")) {
      this.lineNo += 1;
      if (this.lineNo <= afterId || line.trim() === "") continue;
      const parsed = parseLine(line);
      if (parsed) events.push({ id: this.lineNo, ...parsed });
    }
    return events;
  }
}

function parseLine(line: string): Omit<JobEvent, "id"> | null {
  try {
    const value = JSON.parse(line) as Omit<JobEvent, "id">;
    return typeof value.type === "string" ? value : null;
  } catch {
    return null; // the tail of a line cut by a killed worker
  }
}
