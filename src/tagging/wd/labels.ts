import { readFile } from "node:fs/promises";
import { DanluError } from "../../errors.ts";
import { pullHint } from "../../models-store/sources.ts";

/**
 * selected_tags.csv of a WD tagger: `tag_id,name,category,count`, one row per output column of the
 * model, in the same order. Category 9 = rating (the first 4 rows), 0 = general, 4 = character;
 * other categories (some community models add artist/copyright/meta) are kept as "other".
 */
export type TagCategory = "rating" | "general" | "character" | "other";

export interface TagLabel {
  name: string;
  category: TagCategory;
}

const CATEGORY_CODES: Record<string, TagCategory> = { "9": "rating", "0": "general", "4": "character" };

/** Splits CSV text into rows of fields (RFC 4180: quoted fields may hold commas, quotes and newlines). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += char;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Parses selected_tags.csv text; `source` names the file in error messages. */
export function parseSelectedTags(text: string, source: string): TagLabel[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ""));
  const header = rows[0];
  if (!header || header[1] !== "name" || header[2] !== "category") {
    throw new DanluError(`${source}: the header is "${header?.join(",") ?? ""}"`, {
      hint: "a WD tagger's selected_tags.csv starts with tag_id,name,category,count",
      code: "BAD_MODEL",
    });
  }
  return rows.slice(1).map((fields, index) => {
    const name = fields[1];
    const code = fields[2]?.trim();
    if (!name || code === undefined || !/^\d+$/.test(code)) {
      throw new DanluError(`${source}, line ${index + 2}: expected tag_id,name,category,count`, {
        hint: `the file is damaged; download the model again (${pullHint("NAME")})`,
        code: "BAD_MODEL",
      });
    }
    return { name, category: CATEGORY_CODES[code] ?? "other" };
  });
}

export async function readSelectedTags(path: string): Promise<TagLabel[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DanluError(`cannot read ${path}`, {
      hint: "a WD tagger folder holds model.onnx and selected_tags.csv",
      code: "BAD_MODEL",
      cause: error,
    });
  }
  return parseSelectedTags(text, path);
}
