import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PHOTOS } from "../../test/fixtures/bad-files/corpus.ts";
import { registerData } from "./data.ts";

async function run(...args: string[]): Promise<string> {
  const program = new Command("danlu").exitOverride();
  registerData(program);
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(["node", "danlu", ...args]);
  } finally {
    write.mockRestore();
  }
  return chunks.join("");
}

afterEach(() => vi.restoreAllMocks());

describe("danlu data (CLI wiring)", () => {
  it("import --json reports each file, then check --json and crop work on the result", async () => {
    const work = await mkdtemp(join(tmpdir(), "danlu-cli-data-"));
    const out = join(work, "ds");
    const imported = JSON.parse(await run("data", "import", PHOTOS, "--out", out, "--json"));
    expect(imported.counts).toMatchObject({ imported: 5, rejected: 1, skipped: 1 });
    expect(
      imported.entries.find((e: { source: string }) => e.source.endsWith("truncated.jpg")).reason,
    ).toMatch(/truncated/);
    const checked = JSON.parse(await run("data", "check", out, "--json", "--no-people"));
    expect(checked.images).toHaveLength(5);
    expect(checked.images[0].faces).toBeUndefined();
    const text = await run(
      "data",
      "crop",
      out,
      "--out",
      join(work, "crops"),
      "--mode",
      "face",
      "--aspect",
      "2:3",
    );
    expect(text).toMatch(/2 of 5 cropped/);
    expect((await readdir(join(work, "crops"))).sort()).toEqual([
      "astronaut.png",
      "camera.png",
      "manifest.json",
    ]);
  });

  it("rejects a malformed option value before doing anything", async () => {
    const program = new Command("danlu").exitOverride().configureOutput({ writeErr: () => {} });
    registerData(program);
    await expect(
      program.parseAsync(["node", "danlu", "data", "crop", "x", "--out", "y", "--aspect", "wide"]),
    ).rejects.toThrow(/expected bucket or W:H/);
  });
});
