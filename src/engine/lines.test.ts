import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { EventLineError, LineTail, forEachLine, parseEventLine } from "./lines.ts";

function problem(line: string): string {
  try {
    parseEventLine(line);
  } catch (error) {
    if (error instanceof EventLineError) return error.message;
    throw error;
  }
  throw new Error(`parsed: ${line}`);
}

describe("parseEventLine", () => {
  it("parses a valid event", () => {
    const event = parseEventLine('{"event":"log","level":"info","message":"hi"}');
    expect(event).toEqual({ event: "log", level: "info", message: "hi" });
  });

  it("rejects, naming the problem: not JSON, no event, unknown event, missing, extra and mistyped fields", () => {
    expect(problem("Loading weights")).toContain("not JSON");
    expect(problem("")).toContain("not JSON");
    expect(problem("[1,2]")).toContain("no event field");
    expect(problem('{"event":"telemetry"}')).toContain("telemetry");
    expect(problem('{"event":"log","level":"info"}')).toContain("message");
    expect(problem('{"event":"log","level":"info","message":"m","extra":1}')).toContain("extra");
    expect(problem('{"event":"log","level":"loud","message":"m"}')).toContain("level");
    expect(problem('{"event":"cancelled","state_dir":null,"step":1.5}')).toContain("step");
  });

  it("shortens a long bad line in the message", () => {
    expect(problem("x".repeat(5000)).length).toBeLessThan(400);
  });
});

describe("forEachLine", () => {
  it("splits chunks into lines, keeps split UTF-8 characters whole, handles CRLF and a last partial line", async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    forEachLine(stream, (line) => lines.push(line));
    const bytes = Buffer.from("a丹\r\nb炉c\n\nlast", "utf8");
    for (let i = 0; i < bytes.length; i++) stream.write(bytes.subarray(i, i + 1)); // one byte at a time
    stream.end();
    await new Promise((resolve) => stream.on("end", resolve));
    expect(lines).toEqual(["a丹", "b炉c", "", "last"]);
  });
});

describe("LineTail", () => {
  it("keeps the last n lines", () => {
    const tail = new LineTail(2);
    for (const line of ["1", "2", "3"]) tail.push(line);
    expect(tail.get()).toEqual(["2", "3"]);
    const none = new LineTail(0);
    none.push("x");
    expect(none.get()).toEqual([]);
  });
});
