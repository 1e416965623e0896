import { join } from "node:path";
import type { Axis } from "./axes.ts";
import { drawGrid } from "./draw.ts";
import { layoutGrid } from "./geometry.ts";
import type { GridCell, GridPlan } from "./grid-plan.ts";

/** Cells are drawn at least this many px on their short side (64 px test images stay readable) and at most 512 on the long one. */
const MIN_CELL_SIDE = 128;
const MAX_CELL_SIDE = 512;

/** The drawn size of a cell for images of `width` x `height`. */
export function cellDisplaySize(width: number, height: number): { width: number; height: number } {
  const grow = Math.max(1, MIN_CELL_SIDE / Math.min(width, height));
  const scale = Math.min(grow, MAX_CELL_SIDE / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

function labelsOf(axis: Axis | null): string[] {
  return axis ? axis.labels : [""];
}

/** "X: epoch · Y: weight" and, for one of several grids, the Z value it shows. */
export function gridTitle(plan: GridPlan, z: number, heading: string): string {
  const parts = [heading];
  const named = (name: string, axis: Axis | null) => (axis ? [`${name}: ${axis.kind}`] : []);
  parts.push([...named("X", plan.x), ...named("Y", plan.y)].join(" · "));
  if (plan.z) parts.push(`${plan.z.kind}: ${plan.z.labels[z] ?? ""}`);
  return parts.filter((part) => part !== "").join(" — ");
}

/**
 * Draws one PNG per Z value (`grid.png` without a Z axis, else `grid-z1.png`, `grid-z2.png`, ...)
 * into `dir`; `imageOf` gives each cell's image file (null draws a grey box). Returns the paths.
 */
export async function renderGrids(
  plan: GridPlan,
  dir: string,
  imageOf: (cell: GridCell) => string | null,
  heading: string,
): Promise<string[]> {
  const zCount = plan.z?.values.length ?? 1;
  const first = plan.cells[0];
  if (!first) return [];
  const size = cellDisplaySize(first.settings.width, first.settings.height);
  const written: string[] = [];
  for (let z = 0; z < zCount; z++) {
    const geometry = layoutGrid({
      columns: labelsOf(plan.x),
      rows: labelsOf(plan.y),
      title: gridTitle(plan, z, heading),
      cellWidth: size.width,
      cellHeight: size.height,
    });
    const cells = plan.cells.filter((cell) => cell.z === z).map(imageOf);
    const path = join(dir, plan.z ? `grid-z${z + 1}.png` : "grid.png");
    await drawGrid(geometry, cells, path);
    written.push(path);
  }
  return written;
}
