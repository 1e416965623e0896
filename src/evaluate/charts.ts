import { escapeXml } from "./draw.ts";

/** Inline SVG line charts for the report (no scripts, no external files). */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  series: readonly Series[];
  /** Vertical dashed lines (e.g. epoch boundaries, the recommended epoch) at these x values. */
  markers?: readonly { x: number; label: string }[];
  width?: number;
  height?: number;
}

const MARGIN = { left: 64, right: 16, top: 28, bottom: 40 };

/** A compact number for tick labels: 3 significant digits, exponent form for tiny learning rates. */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e5) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  if (finite.length === 0) return [0, 1];
  if (low === high) return [low - (Math.abs(low) || 1) * 0.05, high + (Math.abs(high) || 1) * 0.05];
  return [low, high];
}

/** Renders a line chart as an <svg> element string. */
export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 220;
  const all = options.series.flatMap((s) => s.points);
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [y0, y1] = extent(all.map((p) => p[1]));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    parts.push(
      `<text x="${MARGIN.left - 4}" y="${sy(y) + 4}" text-anchor="end">${formatTick(y)}</text>`,
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`,
    );
  }
  for (const x of [x0, x1]) {
    parts.push(
      `<text x="${sx(x)}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${formatTick(x)}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  for (const marker of options.markers ?? []) {
    const x = sx(marker.x);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#c33" stroke-dasharray="4 3"/>`,
      `<text x="${x + 3}" y="${MARGIN.top + 11}" fill="#c33">${escapeXml(marker.label)}</text>`,
    );
  }
  options.series.forEach((series, i) => {
    const points = series.points.filter((p) => Number.isFinite(p[1]));
    const path = points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    if (points.length > 1) {
      parts.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="1.5"/>`);
    }
    for (const p of points.length <= 30 ? points : []) {
      parts.push(
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${series.color}"/>`,
      );
    }
    const legendX = MARGIN.left + 8 + i * 140;
    parts.push(
      `<rect x="${legendX}" y="${MARGIN.top + plotH - 14}" width="10" height="3" fill="${series.color}"/>`,
      `<text x="${legendX + 14}" y="${MARGIN.top + plotH - 9}">${escapeXml(series.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}
