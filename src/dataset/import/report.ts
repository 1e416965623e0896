import type { ImportReport } from "./index.ts";

/** The printed import report: one line of counts, then every file that was not imported and why. */
export function formatImportReport(report: ImportReport): string {
  const { imported, duplicate, rejected, skipped } = report.counts;
  const rate = imported / Math.max(report.seconds, 1e-3);
  const lines = [
    `${report.outDir}: ${imported} imported, ${duplicate} duplicate, ${rejected} rejected, ${skipped} skipped` +
      ` (${report.seconds.toFixed(1)} s, ${rate.toFixed(1)} images/s)`,
  ];
  const notable = report.entries.filter((entry) => entry.status !== "imported" || entry.reason);
  if (notable.length === 0) return lines.join("\n");
  const width = Math.min(60, Math.max(...notable.map((entry) => entry.source.length)));
  lines.push("", `${"status".padEnd(9)}  ${"source".padEnd(width)}  reason`);
  for (const entry of notable) {
    const source = entry.source.length > width ? "…" + entry.source.slice(-(width - 1)) : entry.source;
    const reason =
      entry.status === "duplicate" ? `${entry.reason ?? ""} (${entry.file ?? "?"})` : entry.reason;
    lines.push(`${entry.status.padEnd(9)}  ${source.padEnd(width)}  ${reason ?? ""}`);
  }
  return lines.join("\n");
}
