import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerGrid } from "./grid.ts";

describe("danlu grid --help", () => {
  it("shows the default of every cell setting", () => {
    const program = new Command("danlu");
    registerGrid(program);
    const help = program.commands.find((c) => c.name() === "grid")?.helpInformation() ?? "";
    const flat = help.replace(/\s+/g, " ");
    for (const [flag, fallback] of [
      ["--seed", "1"],
      ["--steps", "20"],
      ["--cfg", "7"],
      ["--sampler", "Euler a"],
      ["--width", "512"],
      ["--height", "512"],
    ]) {
      expect(flat).toMatch(
        new RegExp(`${flag} <\\S+> .*?\\(default: the run's first sample prompt, else ${fallback}\\)`),
      );
    }
    expect(flat).toMatch(/--weight <w> LoRA weight when weight is not an axis \(default 1\)/);
    expect(flat).toMatch(/--device <device> .*default: "auto"\)/);
  });
});
