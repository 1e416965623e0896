import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { lineChart } from "./charts.ts";
import { imageDistance, isBlack } from "./drift.ts";
import { mentions, NEUTRAL_PROMPTS, planEvalJobs } from "./eval-plan.ts";
import type { IdentityScores } from "./identity.ts";
import { lossByEpoch, parseLossCsv, parseValLossCsv, withValidation } from "./loss.ts";
import { DRIFT_LIMIT, recommendEpoch, type EpochScores } from "./recommend.ts";
import { reportHtml, reportMarkdown } from "./report.ts";
import type { RunFolder } from "./run-folder.ts";

const id = (meanSimilarity: number | null, faceRate = 1): IdentityScores => ({
  images: 4,
  withFace: Math.round(faceRate * 4),
  faceRate,
  meanSimilarity,
  sameShare: null,
});
const epoch = (
  e: number,
  drift: number | null,
  identity: IdentityScores | null = null,
  valLoss: number | null = null,
) => ({ epoch: e, meanLoss: 0.1, valLoss, drift, identity }) satisfies EpochScores;

describe("epoch recommendation", () => {
  it("prefers face identity, breaking near-ties by lower drift, and flags leaking", () => {
    const rec = recommendEpoch(
      [epoch(1, 0.02, id(0.55)), epoch(2, 0.05, id(0.71)), epoch(3, 0.15, id(0.72)), epoch(4, 0.3, id(0.6))],
      { weakModel: null },
    );
    expect(rec.epoch).toBe(2);
    expect(rec.reason).toMatch(/Epoch 2 keeps the trained face best: similarity 0.710/);
    expect(rec.picks).toContainEqual({ signal: "drift", epoch: 2 });
  });

  it("ignores epochs that rarely show a face when others do", () => {
    const rec = recommendEpoch([epoch(1, 0.01, id(0.9, 0.25)), epoch(2, 0.02, id(0.7, 1))], {
      weakModel: null,
    });
    expect(rec.epoch).toBe(2);
  });

  it("uses validation loss next, and says when the signals disagree", () => {
    const rec = recommendEpoch(
      [epoch(1, 0.01, null, 0.2), epoch(2, 0.05, null, 0.1), epoch(3, 0.2, null, 0.15)],
      {
        weakModel: null,
      },
    );
    expect(rec.epoch).toBe(2);
    expect(rec.caveats.join(" ")).not.toMatch(/disagree/);
    const split = recommendEpoch([epoch(1, 0.01, null, 0.2), epoch(2, 0.3, null, 0.1)], { weakModel: null });
    expect(split.epoch).toBe(2);
    expect(split.caveats.join(" ")).toMatch(/disagree \(validation loss: epoch 2, drift: epoch 1\)/);
    expect(split.caveats.join(" ")).toMatch(/leaks into unrelated images/);
  });

  it("with drift alone takes the most trained calm epoch, and says drift cannot see the subject", () => {
    const rec = recommendEpoch([epoch(1, 0.01), epoch(2, 0.04), epoch(3, DRIFT_LIMIT + 0.1)], {
      weakModel: "tiny",
    });
    expect(rec.epoch).toBe(2);
    expect(rec.reason).toMatch(/cannot tell whether the subject was learned/);
    expect(rec.caveats).toContain("tiny");
    expect(rec.caveats.join(" ")).toMatch(/no validation loss/);
    expect(recommendEpoch([epoch(1, null)], { weakModel: null }).epoch).toBeNull();
  });
});

describe("loss history, drift and eval jobs", () => {
  it("parses loss.csv with and without a val_loss column and groups by epoch", () => {
    const rows = parseLossCsv(
      "step,epoch,loss,lr,it_per_s\n1,1,0.2,1e-4,1\n2,1,0.4,1e-4,1\n3,2,0.1,5e-5,1\n",
      "x",
    );
    expect(lossByEpoch(rows)).toEqual([
      { epoch: 1, meanLoss: expect.closeTo(0.3, 9), valLoss: null, lastLr: 1e-4 },
      { epoch: 2, meanLoss: 0.1, valLoss: null, lastLr: 5e-5 },
    ]);
    const withVal = parseLossCsv(
      "step,epoch,loss,lr,it_per_s,val_loss\n1,1,0.2,1,1,\n2,1,0.2,1,1,0.15\n",
      "x",
    );
    expect(lossByEpoch(withVal)[0]?.valLoss).toBe(0.15);
    expect(() => parseLossCsv("a,b\n1,2\n", "f.csv")).toThrow(/f.csv is not a danlu loss history/);
    const val = parseValLossCsv("step,epoch,val_loss,images\n0,0,0.5,3\n2,1,0.4,3\n3,2,0.45,3\n", "v");
    expect(withValidation(lossByEpoch(rows), val).map((e) => e.valLoss)).toEqual([0.4, 0.45]);
  });

  it("measures pixel drift from 0 (same image) to 1 (black vs white) and spots black images", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-drift-"));
    const make = async (name: string, background: string) => {
      const path = join(dir, name);
      await sharp({ create: { width: 32, height: 32, channels: 3, background } })
        .png()
        .toFile(path);
      return path;
    };
    const [black, white, grey] = await Promise.all([
      make("b.png", "#000"),
      make("w.png", "#fff"),
      make("g.png", "#808080"),
    ]);
    expect(await imageDistance(white, white)).toBe(0);
    expect(await imageDistance(black, white)).toBe(1);
    expect(await imageDistance(black, grey)).toBeCloseTo(128 / 255, 6);
    expect(await isBlack(black)).toBe(true);
    expect(await isBlack(grey)).toBe(false);
  });

  it("draws identity images on trigger prompts and drift pairs on the others, base model included", () => {
    const run = {
      epochs: [
        { epoch: 1, path: "a" },
        { epoch: 2, path: "b" },
      ],
      spec: { sample: { prompts: [{ prompt: "dln, smiling" }, { prompt: "a cat" }] } },
    } as unknown as RunFolder;
    expect(mentions("Dln, smiling", "dln")).toBe(true);
    expect(mentions("dlnx smiling", "dln")).toBe(false);
    const plan = planEvalJobs({
      run,
      trigger: "dln",
      base: {
        epoch: null,
        weight: 1,
        prompt: "",
        negative: "",
        seed: 5,
        sampler: "DDIM",
        cfg: 7,
        steps: 2,
        width: 64,
        height: 64,
      },
      seeds: 2,
      withIdentity: true,
      toJob: (settings, prefix, count) => ({ settings, prefix, count }) as never,
    });
    expect(plan.identityPrompts).toEqual(["dln, smiling"]);
    expect(plan.driftPrompts).toEqual(["a cat", ...NEUTRAL_PROMPTS]);
    expect(plan.identity.get(2)).toEqual(["id-e2-p0"]);
    expect(plan.drift.get(0)).toEqual(["drift-e0-p0", "drift-e0-p1", "drift-e0-p2"]);
    expect(plan.jobs).toHaveLength(2 + 3 * 3);
    expect(plan.jobs[2]).toMatchObject({
      settings: { epoch: 0, weight: 1, prompt: "a cat", seed: 5 },
      count: 2,
    });
  });
});

describe("report", () => {
  it("puts the recommendation, the reason, the table, inline images and SVG charts side by side", async () => {
    const dir = mkdtempSync(join(tmpdir(), "danlu-report-"));
    const image = join(dir, "e1.png");
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "#369" } })
      .png()
      .toFile(image);
    writeFileSync(join(dir, "note.txt"), "");
    const scores = [epoch(1, 0.02, id(0.8)), epoch(2, 0.2, id(0.5))];
    const findings = {
      runName: "t",
      runDir: "/runs/t",
      modelPath: "/models/m.safetensors",
      faceNote: "3 of 3 training images have a face.",
      driftPrompts: ["a cat"],
      scores,
      recommendation: recommendEpoch(scores, { weakModel: null }),
      lossRows: parseLossCsv("step,epoch,loss,lr,it_per_s\n1,1,0.2,1e-4,1\n2,2,0.1,1e-4,1\n", "x"),
      valRows: parseValLossCsv("step,epoch,val_loss,images\n0,0,0.3,3\n1,1,0.25,3\n2,2,0.2,3\n", "v"),
      grids: [image],
      examples: new Map([[1, image]]),
    };
    const md = reportMarkdown(findings, dir);
    expect(md).toMatch(/## Recommendation: epoch 1/);
    expect(md).toContain("| 1 ★ | 0.800 | 100% | 0.020 |");
    expect(md).toContain("![](e1.png)");
    const html = reportHtml(findings);
    expect(html).toContain('<tr class="chosen"><td>1 ★</td>');
    expect(html).toMatch(/<img src="data:image\/png;base64,/);
    expect(html).not.toMatch(/src="(?!data:)/); // self-contained
    expect(html.match(/<svg /g)).toHaveLength(2); // loss and lr charts
    expect(html).toContain("training loss");
    expect(html).toContain(">val loss</text>"); // the validation series in the loss chart
  });

  it("charts are valid SVG with a point per value", () => {
    const svg = lineChart({
      title: "t & u",
      xLabel: "step",
      series: [
        {
          name: "a",
          color: "#000",
          points: [
            [1, 2],
            [2, 3],
            [3, 1],
          ],
        },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("t &#38; u");
    expect(svg.match(/<circle/g)).toHaveLength(3);
  });
});
