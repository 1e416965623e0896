import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { lineChart } from "./charts.ts";
import { escapeXml } from "./draw.ts";
import { smooth, type LossRow, type ValRow } from "./loss.ts";
import { DRIFT_LIMIT, type EpochScores, type Recommendation } from "./recommend.ts";

/** What `danlu eval` found, as the report shows it. */
export interface EvalFindings {
  runName: string;
  runDir: string;
  modelPath: string;
  /** Why identity was or was not measured, in a sentence. */
  faceNote: string;
  /** The prompts drift was measured on (without the trigger). */
  driftPrompts: string[];
  scores: EpochScores[];
  recommendation: Recommendation;
  lossRows: LossRow[];
  /** logs/{name}/val_loss.csv rows (empty when the run kept no validation loss). */
  valRows: ValRow[];
  /** Grid PNGs (epochs x weights on the sample prompts). */
  grids: string[];
  /** One example image per epoch (the LoRA at weight 1 on a trigger prompt), for the table. */
  examples: Map<number, string>;
}

const n = (value: number | null | undefined, digits = 3) => (value == null ? "—" : value.toFixed(digits));
const pct = (value: number | null | undefined) => (value == null ? "—" : `${Math.round(value * 100)}%`);

function tableRows(f: EvalFindings): string[][] {
  return f.scores.map((s) => [
    `${s.epoch}${s.epoch === f.recommendation.epoch ? " ★" : ""}`,
    n(s.identity?.meanSimilarity),
    pct(s.identity?.faceRate),
    n(s.drift),
    n(s.meanLoss, 4),
    n(s.valLoss, 4),
  ]);
}

const HEADERS = ["epoch", "face similarity", "faces found", "drift", "mean train loss", "val loss"];

function explanations(f: EvalFindings): string[] {
  return [
    `Face similarity: mean identity similarity (0-1, dlib ResNet descriptors; 0.5 is dlib's same-person line) of the generated faces to the training faces (same person 0.52-0.97, different people 0.27-0.47 on the sample photos). ${f.faceNote}`,
    `Drift: mean absolute pixel difference (0..1) between the base model and the LoRA at weight 1 on prompts without the trigger, same seeds (${f.driftPrompts.map((p) => `"${p}"`).join(", ")}). Under ${DRIFT_LIMIT} the LoRA leaves unrelated images mostly alone.`,
  ];
}

/** The report as Markdown (images referenced by relative path from `dir`). */
export function reportMarkdown(f: EvalFindings, dir: string): string {
  const rec = f.recommendation;
  const lines = [
    `# danlu eval: ${f.runName}`,
    "",
    `Run: \`${f.runDir}\` · base model: \`${f.modelPath}\``,
    "",
    `## Recommendation: ${rec.epoch === null ? "none" : `epoch ${rec.epoch}`}`,
    "",
    rec.reason,
    "",
    ...rec.caveats.map((c) => `- ⚠ ${c}`),
    "",
    "## Scores per epoch",
    "",
    `| ${HEADERS.join(" | ")} | example |`,
    `|${HEADERS.map(() => "---").join("|")}|---|`,
    ...tableRows(f).map((row, i) => {
      const example = f.examples.get(f.scores[i]?.epoch ?? -1);
      return `| ${row.join(" | ")} | ${example ? `![](${relative(dir, example)})` : ""} |`;
    }),
    "",
    ...explanations(f).map((e) => `- ${e}`),
    "",
    "## Grid",
    "",
    ...f.grids.map((g) => `![${basename(g)}](${relative(dir, g)})`),
    "",
    "Loss and learning-rate charts are in report.html.",
    "",
  ];
  return lines.join("\n");
}

function dataUri(path: string): string {
  return `data:image/png;base64,${readFileSync(path).toString("base64")}`;
}

function charts(f: EvalFindings): string[] {
  if (f.lossRows.length === 0) return ["<p>The run kept no loss history (logs/{name}/loss.csv).</p>"];
  const window = Math.max(1, Math.round(f.lossRows.length / 20));
  const steps = f.lossRows.map((r) => r.step);
  const smoothed = smooth(
    f.lossRows.map((r) => r.loss),
    window,
  );
  const lossSeries = [
    { name: "loss", color: "#bbb", points: f.lossRows.map((r) => [r.step, r.loss] as const) },
    {
      name: `mean of ${window}`,
      color: "#1565c0",
      points: steps.map((s, i) => [s, smoothed[i] ?? NaN] as const),
    },
  ];
  const withVal = [
    ...f.lossRows.filter((r) => r.valLoss !== null),
    ...f.valRows.map((r) => ({ step: r.step, valLoss: r.valLoss })),
  ].sort((a, b) => a.step - b.step);
  if (withVal.length > 0) {
    lossSeries.push({
      name: "val loss",
      color: "#e65100",
      points: withVal.map((r) => [r.step, r.valLoss ?? NaN] as const),
    });
  }
  const lastStepOf = (epoch: number) =>
    Math.max(...f.lossRows.filter((r) => r.epoch === epoch).map((r) => r.step));
  const markers =
    f.recommendation.epoch === null
      ? []
      : [{ x: lastStepOf(f.recommendation.epoch), label: `epoch ${f.recommendation.epoch}` }];
  return [
    lineChart({ title: "training loss", xLabel: "step", series: lossSeries, markers }),
    lineChart({
      title: "learning rate",
      xLabel: "step",
      series: [{ name: "lr", color: "#2e7d32", points: f.lossRows.map((r) => [r.step, r.lr] as const) }],
    }),
  ];
}

/** The report as one self-contained HTML page (images inline as data URIs, charts as inline SVG). */
export function reportHtml(f: EvalFindings): string {
  const rec = f.recommendation;
  const rows = tableRows(f).map((row, i) => {
    const epoch = f.scores[i]?.epoch ?? -1;
    const example = f.examples.get(epoch);
    const image = example ? `<img src="${dataUri(example)}" alt="epoch ${epoch}" width="96">` : "";
    const mark = epoch === rec.epoch ? ' class="chosen"' : "";
    return `<tr${mark}>${row.map((c) => `<td>${escapeXml(c)}</td>`).join("")}<td>${image}</td></tr>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>danlu eval: ${escapeXml(f.runName)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
tr.chosen{background:#fff3c4}.caveat{color:#8a4b00}img{image-rendering:auto}code{background:#f4f4f4}</style></head><body>
<h1>danlu eval: ${escapeXml(f.runName)}</h1>
<p>Run <code>${escapeXml(f.runDir)}</code> · base model <code>${escapeXml(f.modelPath)}</code></p>
<h2>Recommendation: ${rec.epoch === null ? "none" : `epoch ${rec.epoch}`}</h2>
<p>${escapeXml(rec.reason)}</p>
<ul>${rec.caveats.map((c) => `<li class="caveat">${escapeXml(c)}</li>`).join("")}</ul>
<h2>Scores per epoch</h2>
<table><tr>${[...HEADERS, "example"].map((h) => `<th>${h}</th>`).join("")}</tr>${rows.join("")}</table>
<ul>${explanations(f)
    .map((e) => `<li>${escapeXml(e)}</li>`)
    .join("")}</ul>
<h2>Grid</h2>
${f.grids.map((g) => `<p><img src="${dataUri(g)}" alt="${escapeXml(basename(g))}" style="max-width:100%"></p>`).join("\n")}
<h2>Loss and learning rate</h2>
${charts(f).join("\n")}
</body></html>
`;
}

function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, "utf8");
  renameSync(temp, path);
}

/** Writes report.md and report.html into `dir`; returns their paths. */
export function writeReport(f: EvalFindings, dir: string): { markdown: string; html: string } {
  const markdown = join(dir, "report.md");
  const html = join(dir, "report.html");
  writeAtomically(markdown, reportMarkdown(f, dir));
  writeAtomically(html, reportHtml(f));
  return { markdown, html };
}
