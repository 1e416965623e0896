import type { CheckReport } from "./index.ts";
import type { FixAction } from "./fix.ts";

/** The printed check report: one row per image, then the summary of what to fix. */
export function formatCheckReport(report: CheckReport, fixes: readonly FixAction[] = []): string {
  const width = Math.min(40, Math.max(4, ...report.images.map((image) => image.file.length)));
  const header = `${"file".padEnd(width)}  ${"size".padStart(11)}  ${"sharp".padStart(7)}  faces  flags`;
  const rows = report.images.map((image) => {
    const name = image.file.length > width ? image.file.slice(0, width - 1) + "…" : image.file;
    const size = image.error ? "-" : `${image.width}x${image.height}`;
    const faces = image.faces === undefined ? "-" : String(image.faces);
    const flags = image.flags.join(", ") + (image.duplicateOf ? ` (of ${image.duplicateOf})` : "");
    return `${name.padEnd(width)}  ${size.padStart(11)}  ${image.sharpness.toFixed(0).padStart(7)}  ${faces.padStart(5)}  ${flags}`;
  });
  const lines = [
    header,
    ...rows,
    "",
    `${report.images.length} images checked in ${report.seconds.toFixed(1)} s`,
  ];
  lines.push(...report.summary.map((line) => `- ${line}`));
  if (fixes.length > 0) {
    lines.push("", `moved aside (${fixes.length}):`);
    lines.push(...fixes.map((fix) => `  ${fix.file} -> ${fix.movedTo}: ${fix.reason}`));
  }
  return lines.join("\n");
}
