/**
 * Where everything goes in a drawn grid (pure arithmetic, pixels): a title band, a band of column
 * labels above the cells, a band of row labels to their left, and the cells with a small gap.
 */

export interface GridShape {
  columns: string[]; // X labels (one "" when there is no X axis)
  rows: string[]; // Y labels (one "" when there is no Y axis)
  title: string;
  cellWidth: number;
  cellHeight: number;
}

export interface PlacedText {
  x: number; // anchor: the centre for column labels and the title, the left edge for row labels
  y: number; // baseline of the first line
  lines: string[];
}

export interface GridGeometry {
  width: number;
  height: number;
  fontSize: number;
  lineHeight: number;
  title: PlacedText;
  columnLabels: PlacedText[];
  rowLabels: PlacedText[];
  /** Cell rectangles, row-major: cells[row * columns + column]. */
  cells: { left: number; top: number; width: number; height: number }[];
}

export const GAP = 4;
const PADDING = 8;
/** DejaVu Sans averages ~0.6 em per character; used to wrap labels before drawing. */
const CHAR_WIDTH_EM = 0.6;
const MAX_LABEL_LINES = 3;

/** Splits `text` into at most `maxLines` lines of at most `maxChars`, ending in "…" when cut. */
export function wrapText(text: string, maxChars: number, maxLines = MAX_LABEL_LINES): string[] {
  const width = Math.max(4, Math.floor(maxChars));
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    const pieces = word.length > width ? (word.match(new RegExp(`.{1,${width}}`, "g")) ?? []) : [word];
    for (const piece of pieces) {
      const joined = current === "" ? piece : `${current} ${piece}`;
      if (joined.length <= width) current = joined;
      else {
        lines.push(current);
        current = piece;
      }
    }
  }
  if (current !== "") lines.push(current);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const last = kept[maxLines - 1] ?? "";
  kept[maxLines - 1] = `${last.slice(0, width - 1)}…`;
  return kept;
}

/** Lays out a grid of `columns` x `rows` cells of one size with their labels. */
export function layoutGrid(shape: GridShape): GridGeometry {
  const { cellWidth, cellHeight } = shape;
  const fontSize = Math.max(12, Math.min(22, Math.round(cellWidth / 11)));
  const lineHeight = Math.round(fontSize * 1.25);
  const charsPerCell = cellWidth / (fontSize * CHAR_WIDTH_EM);
  const columnLines = shape.columns.map((label) => wrapText(label, charsPerCell));
  const hasRowLabels = shape.rows.some((label) => label !== "");
  const rowLabelWidth = hasRowLabels ? Math.round(Math.max(cellWidth * 0.75, 6 * fontSize)) : 0;
  const charsPerRowLabel = rowLabelWidth / (fontSize * CHAR_WIDTH_EM);
  const rowLines = shape.rows.map((label) => wrapText(label, charsPerRowLabel, 6));

  // The title wraps to the image's width (which does not depend on it); bold glyphs run ~10% wider.
  const left0 = PADDING + rowLabelWidth + (hasRowLabels ? PADDING : 0);
  const gridWidth = shape.columns.length * (cellWidth + GAP) - GAP;
  const width = left0 + gridWidth + PADDING;
  const charsPerTitle = (width - 2 * PADDING) / (fontSize * CHAR_WIDTH_EM * 1.1);
  const titleLines = shape.title === "" ? [] : wrapText(shape.title, charsPerTitle, 3);
  const titleHeight = titleLines.length * lineHeight + (titleLines.length > 0 ? PADDING : 0);
  const maxColumnLines = Math.max(0, ...columnLines.map((lines) => lines.length));
  const columnBand = maxColumnLines * lineHeight + (maxColumnLines > 0 ? PADDING : 0);
  const top0 = PADDING + titleHeight + columnBand;

  const cells: GridGeometry["cells"] = [];
  shape.rows.forEach((_, row) => {
    shape.columns.forEach((_, column) => {
      const left = left0 + column * (cellWidth + GAP);
      const top = top0 + row * (cellHeight + GAP);
      cells.push({ left, top, width: cellWidth, height: cellHeight });
    });
  });
  const gridHeight = shape.rows.length * (cellHeight + GAP) - GAP;
  return {
    width,
    height: top0 + gridHeight + PADDING,
    fontSize,
    lineHeight,
    title: { x: width / 2, y: PADDING + fontSize, lines: titleLines },
    columnLabels: columnLines.map((lines, column) => ({
      x: left0 + column * (cellWidth + GAP) + cellWidth / 2,
      y: PADDING + titleHeight + fontSize,
      lines,
    })),
    rowLabels: rowLines.map((lines, row) => ({
      x: PADDING,
      y: top0 + row * (cellHeight + GAP) + (cellHeight - lines.length * lineHeight) / 2 + fontSize,
      lines,
    })),
    cells,
  };
}
