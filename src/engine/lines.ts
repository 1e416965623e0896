import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";
import { engineEvent, type EngineEvent } from "./protocol.ts";

/**
 * Calls `onLine` for each complete line of a byte stream (UTF-8, "\n" or "\r\n" endings), and for a
 * last line without a newline when the stream ends. Multi-byte characters split across chunks are kept whole.
 */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const emitLines = (text: string) => {
    pending += text;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
      newline = pending.indexOf("\n");
    }
  };
  stream.on("data", (chunk: Buffer) => emitLines(decoder.write(chunk)));
  stream.on("end", () => {
    emitLines(decoder.end());
    if (pending.length > 0) onLine(pending);
    pending = "";
  });
}

/** A stdout line that is not a valid event. The message quotes the line (shortened) and says what is wrong. */
export class EventLineError extends Error {
  constructor(
    readonly line: string,
    problem: string,
  ) {
    super(`the engine wrote a line that is not a protocol event (${problem}): ${quote(line)}`);
    this.name = "EventLineError";
  }
}

function quote(line: string, max = 200): string {
  return JSON.stringify(line.length > max ? `${line.slice(0, max)}...` : line);
}

/** Parses one stdout line into an event, or throws EventLineError (never returns a partial event). */
export function parseEventLine(line: string): EngineEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new EventLineError(line, "not JSON");
  }
  const parsed = engineEvent.safeParse(value);
  if (!parsed.success) {
    const kind =
      typeof value === "object" && value !== null && "event" in value
        ? String(value.event)
        : "no event field";
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join(".") || "event"}: ${issue.message}`)
      .join("; ");
    throw new EventLineError(line, `${kind}: ${issues}`);
  }
  return parsed.data;
}

/** Keeps the last `size` lines written to it (for error messages: what the engine said before it died). */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(private readonly size: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }

  get(): string[] {
    return [...this.lines];
  }
}
