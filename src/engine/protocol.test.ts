import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { runEngine } from "./driver.ts";
import { ENGINE_ERROR_CODES, PHASES, engineEvent } from "./protocol.ts";
import { engineLauncher, REPO_ROOT } from "./python.ts";

/**
 * Keeps protocol.ts and engine/danlu_engine/protocol.py in step: `python -m danlu_engine protocol` prints
 * Python's EVENTS ({event: {field: type}}), and each zod schema is described in the same type language:
 * "str", "int", "float", "bool", "dict", "list[str]", "enum:a|b" (values sorted here), "?" = nullable.
 */
function describeField(schema: z.ZodType): string {
  const def = schema.def as { type: string; innerType?: z.ZodType; element?: z.ZodType; entries?: object };
  switch (def.type) {
    case "nullable":
      return `${describeField(def.innerType!)}?`;
    case "string":
      return "str";
    case "number":
      return (schema as z.ZodNumber).isInt ? "int" : "float";
    case "boolean":
      return "bool";
    case "record":
      return "dict";
    case "array":
      return `list[${describeField(def.element!)}]`;
    case "enum":
      return `enum:${Object.keys(def.entries!).sort().join("|")}`;
    default:
      throw new Error(`protocol.test: no Python counterpart for a zod ${def.type}`);
  }
}

function typescriptEvents(): Record<string, Record<string, string>> {
  const events: Record<string, Record<string, string>> = {};
  for (const option of engineEvent.options) {
    const { event, ...fields } = option.shape;
    const name = event.def.values[0] as string;
    events[name] = Object.fromEntries(
      Object.entries(fields).map(([key, field]) => [key, describeField(field)]),
    );
  }
  return events;
}

function pythonEvents(): Record<string, Record<string, string>> {
  const launcher = engineLauncher();
  const stdout = execFileSync(launcher.executable, [...launcher.args, "protocol"], {
    env: { ...process.env, ...launcher.env },
    encoding: "utf8",
  });
  const { events } = JSON.parse(stdout) as { events: Record<string, Record<string, string>> };
  for (const fields of Object.values(events)) {
    for (const [key, type] of Object.entries(fields)) {
      if (!type.startsWith("enum:")) continue;
      fields[key] = `enum:${type.slice(5).split("|").sort().join("|")}`;
    }
  }
  return events;
}

describe("the protocol in TypeScript and in Python", () => {
  const python = pythonEvents();
  const typescript = typescriptEvents();

  it("defines the same events", () => {
    expect(Object.keys(typescript).sort()).toEqual(Object.keys(python).sort());
  });

  it.each(Object.keys(python))("event %s has the same fields, types, nullability and enum values", (name) => {
    expect(typescript[name]).toEqual(python[name]);
  });

  it("describes zod fields faithfully (the comparison itself can fail)", () => {
    expect(typescript.progress?.memory_mb).toBe("float?");
    expect(typescript.progress?.step).toBe("int");
    expect(typescript.done?.outputs).toBe("list[str]");
    expect(typescript.error?.code).toBe(`enum:${[...ENGINE_ERROR_CODES].sort().join("|")}`);
    expect(typescript.phase?.name).toBe(`enum:${[...PHASES].sort().join("|")}`);
  });
});

describe("the real engine's events", () => {
  it("make-tiny writes only valid events, ready first and done last", async () => {
    expect(existsSync(join(REPO_ROOT, "engine/danlu_engine/commands/make_tiny.py"))).toBe(true);
    const out = join(mkdtempSync(join(tmpdir(), "danlu-protocol-")), "tiny.safetensors");
    const kinds: string[] = [];
    // runEngine parses every line with the zod schemas and fails on any line that does not match.
    const result = await runEngine(
      "make-tiny",
      { version: 1, arch: "sd15", out, single_file: true, inpainting: false, seed: 0 },
      {
        onEvent: (event) => kinds.push(event.event),
      },
    );
    expect(result.status).toBe("done");
    expect(kinds[0]).toBe("ready");
    expect(kinds.at(-1)).toBe("done");
    expect(existsSync(out)).toBe(true);
  });
});
