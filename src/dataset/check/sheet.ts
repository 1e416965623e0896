import { availableParallelism } from "node:os";
import { join } from "node:path";
import sharp, { type OverlayOptions } from "sharp";
import { mapPool, openImage, replaceFile } from "../images.ts";
import type { CheckReport, ImageCheck } from "./index.ts";

/**
 * The contact sheet: every image as a thumbnail, its name under it, flagged ones framed in red with
 * their flags written across the top, so a person can see at a glance what check found.
 */
const THUMB = 192; // px, the thumbnail's longer side
const LABEL = 36; // px of caption strip under each thumbnail: two lines
const GAP = 6;
const COLUMNS = 8;
/** A sheet of 10,000 thumbnails would be a 1,600 x 250,000 px image; past this many, the flagged ones come first. */
const MAX_TILES = 1_000;

export async function writeContactSheet(report: CheckReport, outFile: string): Promise<number> {
  const ordered = [...report.images].sort((a, b) => Number(b.flags.length > 0) - Number(a.flags.length > 0));
  const images = (report.images.length > MAX_TILES ? ordered : report.images).slice(0, MAX_TILES);
  const columns = Math.max(1, Math.min(COLUMNS, images.length));
  const rows = Math.ceil(images.length / columns);
  const cell = { width: THUMB + GAP, height: THUMB + LABEL + GAP };
  const layers = await mapPool(images, availableParallelism(), async (image, index) => {
    const left = (index % columns) * cell.width + GAP;
    const top = Math.floor(index / columns) * cell.height + GAP;
    return tileLayers(report.dir, image, left, top);
  });
  const canvas = sharp({
    create: {
      width: columns * cell.width + GAP,
      height: Math.max(1, rows) * cell.height + GAP,
      channels: 3,
      background: "#202020",
    },
  });
  const png = await canvas.composite(layers.flat()).png().toBuffer();
  await replaceFile(outFile, png);
  return images.length;
}

async function tileLayers(
  dir: string,
  image: ImageCheck,
  left: number,
  top: number,
): Promise<OverlayOptions[]> {
  const thumbnail = await openImage(join(dir, image.file))
    .autoOrient()
    .resize(THUMB, THUMB, { fit: "contain", background: "#303030" })
    .flatten({ background: "#303030" })
    .png()
    .toBuffer()
    .catch(() => undefined); // unreadable: the overlay alone says so
  const layers: OverlayOptions[] = [];
  if (thumbnail) layers.push({ input: thumbnail, left, top });
  layers.push({ input: Buffer.from(overlaySvg(image)), left, top });
  return layers;
}

function overlaySvg(image: ImageCheck): string {
  const flagged = image.flags.length > 0;
  const colour = flagged ? "#ff3030" : "#30c050";
  const flagText = image.flags.join(" · ");
  const [name, detail] = sheetLabel(image);
  const height = THUMB + LABEL;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${THUMB}" height="${height}">
  <rect x="1.5" y="1.5" width="${THUMB - 3}" height="${THUMB - 3}" fill="none" stroke="${colour}" stroke-width="${flagged ? 3 : 1}"/>
  ${flagged ? `<rect x="0" y="0" width="${THUMB}" height="20" fill="#000000" fill-opacity="0.65"/><text x="5" y="14" font-family="sans-serif" font-size="12" font-weight="bold" fill="${colour}">${escapeXml(flagText)}</text>` : ""}
  <text x="2" y="${THUMB + 15}" font-family="sans-serif" font-size="11" fill="#e0e0e0">${escapeXml(name)}</text>
  ${detail ? `<text x="2" y="${THUMB + 30}" font-family="sans-serif" font-size="11" fill="#b0b0b0">${escapeXml(detail)}</text>` : ""}
</svg>`;
}

/** The two lines under a thumbnail: the file name, then size, sharpness and (when counted) faces, spelled out. */
export function sheetLabel(image: ImageCheck): [string, string] {
  const name = image.file.length > 30 ? image.file.slice(0, 29) + "…" : image.file;
  if (image.error) return [name, ""];
  const faces = image.faces === undefined ? [] : [`${image.faces} ${image.faces === 1 ? "face" : "faces"}`];
  const details = [`${image.width}x${image.height}`, `sharpness ${Math.round(image.sharpness)}`, ...faces];
  return [name, details.join(" · ")];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
