import { join } from "node:path";
import { writeFileAtomic } from "../tagging/backup.ts";
import type { PortraitResult } from "./pipeline.ts";

/**
 * The result folder's record of a portrait run: result.json (what the API answers) and report.html, a page
 * that opens from the folder with no server: the photos kept and dropped with the reasons, the seconds of
 * each stage, and each style's portraits with their scores. Both are written to a temp file, then renamed.
 */
export async function writeReport(out: string, result: PortraitResult): Promise<void> {
  await writeFileAtomic(join(out, "result.json"), JSON.stringify(result, null, 2) + "\n");
  await writeFileAtomic(join(out, "report.html"), reportHtml(result));
}

const esc = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
const url = (path: string) => path.split("/").map(encodeURIComponent).join("/");

export function reportHtml(r: PortraitResult): string {
  const stageRows = Object.entries(r.seconds)
    .map(([stage, s]) => `<tr><td>${esc(stage)}</td><td>${s.toFixed(2)} s</td></tr>`)
    .join("");
  const kept = r.photos.kept
    .map(
      (k) =>
        `<figure><img src="photos/${url(k.file)}" alt="${esc(k.file)}" loading="lazy"><figcaption>${esc(k.file)}<br>identity ${k.identity.toFixed(2)} · face ${k.face_px} px${k.note ? `<br>${esc(k.note)}` : ""}</figcaption></figure>`,
    )
    .join("");
  const dropped = [
    ...r.photos.dropped.map(
      (d) =>
        `<tr><td><img src="photos/${url(d.file)}" alt="" loading="lazy"></td><td>${esc(d.file)}</td><td>${esc(d.reason)}</td><td>${esc(d.detail)}</td></tr>`,
    ),
    ...r.photos.rejected.map(
      (d) => `<tr><td></td><td>${esc(d.file)}</td><td>not imported</td><td>${esc(d.reason)}</td></tr>`,
    ),
  ].join("");
  const styles = r.styles
    .map(
      (s) => `<section><h3>${esc(s.title)} <small>${esc(s.title_zh)} · ${esc(s.name)}</small></h3>
<p class="prompt">${esc(s.prompt)}</p>
<div class="grid">${s.portraits
        .map(
          (p, i) =>
            `<figure><img src="${url(p.file)}" alt="${esc(s.name)} #${i + 1}" loading="lazy"><figcaption>#${i + 1} · score ${p.score.toFixed(3)}${p.gate === "ok" ? "" : ` · <span class="bad">${esc(p.gate)}</span>`}</figcaption></figure>`,
        )
        .join("")}</div></section>`,
    )
    .join("");
  const warnings = r.warnings.length
    ? `<h2>Warnings</h2><ul>${r.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>danlu portrait report</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:1rem auto;max-width:1100px;padding:0 1rem;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.75rem}
figure{margin:0}figure img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:4px;background:#eee}
figcaption{font-size:.85em;color:#555}table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td img{width:64px;height:64px;object-fit:cover}.prompt{font-family:monospace;font-size:.85em;color:#555}.bad{color:#b00}
</style></head><body>
<h1>Portraits for <code>${esc(r.trigger)}</code> (${esc(r.class)})</h1>
<p>LoRA: <a href="${url(r.lora)}">${esc(r.lora)}</a> · ${r.training_images} training images from ${r.photos.kept.length} of ${r.photos.imported + r.photos.rejected.length} photos · ${r.seconds.total !== undefined ? `${r.seconds.total.toFixed(1)} s in all` : "running"}</p>
<h2>Portraits</h2>${styles}
<h2>Photos kept (${r.photos.kept.length})</h2><div class="grid">${kept}</div>
<h2>Photos dropped (${r.photos.dropped.length + r.photos.rejected.length})</h2>
<table><thead><tr><th></th><th>file</th><th>reason</th><th>why</th></tr></thead><tbody>${dropped}</tbody></table>
<h2>Stages</h2><table><tbody>${stageRows}</tbody></table>
${warnings}
</body></html>
`;
}
