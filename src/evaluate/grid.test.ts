import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { REPO_ROOT } from "../engine/python.ts";
import { checkDistinctAxes, parseAxis } from "./axes.ts";
import { labelsSvg } from "./draw.ts";
import { GAP, layoutGrid, wrapText } from "./geometry.ts";
import { planGrid, type CellSettings } from "./grid-plan.ts";
import { cellDisplaySize, renderGrids } from "./grid-render.ts";
import { baseSettings } from "./grid.ts";

const saved = { saved: [1, 2, 3] };

describe("grid axes", () => {
  it("parses numbers with commas, prompts and samplers with bars", () => {
    expect(parseAxis("weight=0.6, 0.8,1", "--x", null)).toEqual({
      kind: "weight",
      values: [0.6, 0.8, 1],
      labels: ["weight 0.6", "weight 0.8", "weight 1"],
    });
    expect(parseAxis("prompt=dln, smiling|dln, on a beach", "--y", null).values).toEqual([
      "dln, smiling",
      "dln, on a beach",
    ]);
    expect(parseAxis("sampler=Euler a|DPM++ 2M Karras", "--z", null).values).toEqual([
      "Euler a",
      "DPM++ 2M Karras",
    ]);
    expect(parseAxis("CFG=5,7.5", "--x", null).labels).toEqual(["CFG 5", "CFG 7.5"]);
    expect(parseAxis("seeds=1,2", "--x", null).kind).toBe("seed");
  });

  it("resolves epochs against the run's saved epochs", () => {
    expect(parseAxis("epoch", "--x", saved).values).toEqual([1, 2, 3]);
    expect(parseAxis("epoch=base,1,final", "--x", saved)).toMatchObject({
      values: [0, 1, 3],
      labels: ["base (no LoRA)", "epoch 1", "epoch 3"],
    });
    expect(() => parseAxis("epoch=4", "--x", saved)).toThrow(/epoch '4' was not saved/);
    expect(() => parseAxis("epoch=all", "--x", null)).toThrow(/needs a training run folder/);
  });

  it("names what is wrong", () => {
    expect(() => parseAxis("steps=10", "--x", null)).toThrow(DanluError);
    expect(() => parseAxis("steps=10", "--x", null)).toThrow(/unknown axis 'steps'/);
    expect(() => parseAxis("seed=1.5", "--y", null)).toThrow(/'1.5' is not a valid seed/);
    expect(() => parseAxis("weight=", "--y", null)).toThrow(/has no values/);
    expect(() =>
      checkDistinctAxes([parseAxis("seed=1", "--x", null), parseAxis("seed=2", "--y", null)]),
    ).toThrow(/both 'seed'/);
  });
});

const base: CellSettings = {
  epoch: null,
  weight: 1,
  prompt: "dln",
  negative: "",
  seed: 7,
  sampler: "Euler a",
  cfg: 7,
  steps: 4,
  width: 64,
  height: 96,
};

describe("grid plan and geometry", () => {
  it("makes one cell per combination, z-major, each with its own settings and file prefix", () => {
    const plan = planGrid(
      {
        x: parseAxis("epoch=1,3", "--x", saved),
        y: parseAxis("weight=0.5,1", "--y", null),
        z: parseAxis("seed=1,2,3", "--z", null),
      },
      base,
    );
    expect(plan.cells).toHaveLength(12);
    expect(plan.cells[5]).toMatchObject({ x: 1, y: 0, z: 1, prefix: "cell-z1-y0-x1" });
    expect(plan.cells[5]?.settings).toMatchObject({ epoch: 3, weight: 0.5, seed: 2, prompt: "dln" });
    expect(new Set(plan.cells.map((c) => c.prefix)).size).toBe(12);
  });

  it("a run's sample prompt brings its own seed and size, keeping the epoch and weight", () => {
    const preset: CellSettings = { ...base, prompt: "a cat", seed: 99, width: 128, height: 128 };
    const plan = planGrid(
      {
        x: parseAxis("epoch=2", "--x", saved),
        y: parseAxis("weight=0.6", "--y", null),
        z: parseAxis("prompt=a cat", "--z", null),
      },
      base,
      new Map([["a cat", preset]]),
    );
    expect(plan.cells[0]?.settings).toMatchObject({
      prompt: "a cat",
      seed: 99,
      width: 128,
      epoch: 2,
      weight: 0.6,
    });
  });

  it("starts from the run's first sample prompt; --prompt and other flags override it", () => {
    const engine = { target: "run", clipSkip: 1, device: "cpu", precision: "no" } as const;
    const presets = new Map([
      ["dln, a photo", { ...base, prompt: "dln, a photo", negative: "blurry", width: 64 }],
    ]);
    expect(baseSettings(engine, presets)).toMatchObject({
      prompt: "dln, a photo",
      negative: "blurry",
      width: 64,
    });
    expect(baseSettings({ ...engine, prompt: "dln smiling", seed: 9 }, presets)).toMatchObject({
      prompt: "dln smiling",
      negative: "",
      seed: 9,
      width: 64,
    });
    expect(baseSettings({ ...engine, y: "prompt=a|b" }, new Map())).toMatchObject({ prompt: "", width: 512 });
    expect(() => baseSettings(engine, new Map())).toThrow(/no prompt for the grid/);
  });

  it("wraps long labels into at most three lines", () => {
    expect(wrapText("a photo of dln on a beach at sunset", 12)).toEqual([
      "a photo of",
      "dln on a",
      "beach at…",
    ]);
    expect(wrapText("short", 12)).toEqual(["short"]);
  });

  it("places cells after the label bands, with a gap between them", () => {
    const g = layoutGrid({
      columns: ["a", "b", "c"],
      rows: ["r1", "r2"],
      title: "T",
      cellWidth: 128,
      cellHeight: 192,
    });
    expect(g.cells).toHaveLength(6);
    const [first, second] = g.cells;
    expect(second!.left - first!.left).toBe(128 + GAP);
    expect(g.cells[3]!.top - first!.top).toBe(192 + GAP);
    expect(first!.left).toBeGreaterThan(g.rowLabels[0]!.x);
    expect(first!.top).toBeGreaterThan(g.columnLabels[0]!.y);
    expect(g.width).toBe(g.cells[2]!.left + 128 + 8);
    expect(g.height).toBe(g.cells[5]!.top + 192 + 8);
    expect(cellDisplaySize(64, 96)).toEqual({ width: 128, height: 192 });
    expect(cellDisplaySize(1024, 512)).toEqual({ width: 512, height: 256 });
  });
});

describe("drawn grid", () => {
  it("is the laid-out size, shows each cell image, and carries the labels", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-grid-"));
    const plan = planGrid(
      { x: parseAxis("weight=0.6,1", "--x", null), y: parseAxis("cfg=5,7", "--y", null), z: null },
      { ...base, width: 64, height: 64 },
    );
    const red = join(dir, "red.png");
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#f00" } })
      .png()
      .toFile(red);
    const [path] = await renderGrids(plan, dir, (cell) => (cell.x === 0 ? red : null), "run t");
    const geometry = layoutGrid({
      columns: ["weight 0.6", "weight 1"],
      rows: ["CFG 5", "CFG 7"],
      title: "run t — X: weight · Y: cfg",
      cellWidth: 128,
      cellHeight: 128,
    });
    expect(path).toBe(join(dir, "grid.png"));
    const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([geometry.width, geometry.height]);
    const pixel = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    const [c0, c1] = geometry.cells;
    expect(pixel(c0!.left + 64, c0!.top + 64)).toEqual([255, 0, 0]); // the image
    expect(pixel(c1!.left + 64, c1!.top + 64)).toEqual([204, 204, 204]); // missing: grey
    // text was drawn in the column-label band (dark pixels above the first cell)
    let dark = 0;
    for (let y = c0!.top - geometry.lineHeight - 8; y < c0!.top; y++) {
      for (let x = c0!.left; x < c0!.left + 128; x++) if ((pixel(x, y)[0] ?? 255) < 100) dark++;
    }
    expect(dark).toBeGreaterThan(20);
    const svg = labelsSvg(geometry);
    for (const label of ["weight 0.6", "weight 1", "CFG 5", "CFG 7", "X: weight · Y: cfg"]) {
      expect(svg).toContain(label);
    }
  });

  it("draws one PNG per Z value", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-grid-"));
    const plan = planGrid(
      { x: parseAxis("seed=1,2", "--x", null), y: null, z: parseAxis("prompt=a|b|c", "--z", null) },
      base,
    );
    const photo = join(REPO_ROOT, "fixtures", "photos", "coffee.png");
    const paths = await renderGrids(plan, dir, () => photo, "");
    expect(paths.map((p) => p.slice(dir.length + 1))).toEqual(["grid-z1.png", "grid-z2.png", "grid-z3.png"]);
  });
});
