import { rename } from "node:fs/promises";
import sharp, { type OverlayOptions } from "sharp";
import type { GridGeometry, PlacedText } from "./geometry.ts";

/** Escapes text for an SVG text node. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function textBlock(
  placed: PlacedText,
  geometry: GridGeometry,
  anchor: "middle" | "start",
  bold = false,
): string {
  return placed.lines
    .map(
      (line, i) =>
        `<text x="${placed.x}" y="${placed.y + i * geometry.lineHeight}" text-anchor="${anchor}"` +
        `${bold ? ' font-weight="bold"' : ""}>${escapeXml(line)}</text>`,
    )
    .join("");
}

/** The labels of a grid as one SVG the size of the whole image (rendered by sharp/librsvg). */
export function labelsSvg(geometry: GridGeometry): string {
  const body = [
    textBlock(geometry.title, geometry, "middle", true),
    ...geometry.columnLabels.map((label) => textBlock(label, geometry, "middle")),
    ...geometry.rowLabels.map((label) => textBlock(label, geometry, "start")),
  ].join("");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${geometry.width}" height="${geometry.height}">` +
    `<g font-family="DejaVu Sans, sans-serif" font-size="${geometry.fontSize}" fill="#111">${body}</g></svg>`
  );
}

/**
 * Draws a grid PNG: white canvas, each cell image scaled to its rectangle (a grey box where an image
 * is missing), the labels on top. `cells` is row-major like geometry.cells. Written via temp + rename.
 */
export async function drawGrid(
  geometry: GridGeometry,
  cells: (string | null)[],
  outPath: string,
): Promise<void> {
  const overlays: OverlayOptions[] = await Promise.all(
    geometry.cells.map(async (rect, i) => {
      const path = cells[i] ?? null;
      const input = path
        ? await sharp(path)
            .resize(rect.width, rect.height, { fit: "contain", background: "#fff" })
            .png()
            .toBuffer()
        : await sharp({
            create: { width: rect.width, height: rect.height, channels: 3, background: "#ccc" },
          })
            .png()
            .toBuffer();
      return { input, left: rect.left, top: rect.top };
    }),
  );
  overlays.push({ input: Buffer.from(labelsSvg(geometry)), left: 0, top: 0 });
  const temp = `${outPath}.${process.pid}.tmp`;
  const composed = await sharp({
    create: { width: geometry.width, height: geometry.height, channels: 3, background: "#fff" },
  })
    .composite(overlays)
    .png()
    .toBuffer();
  // the SVG overlay brings an alpha channel along; the grid is opaque RGB
  await sharp(composed).removeAlpha().png().toFile(temp);
  await rename(temp, outPath);
}
