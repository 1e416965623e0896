import { describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import { parseCsv, parseSelectedTags } from "./labels.ts";
import { selectedTagsCsv, TINY_TAGS } from "./testing/tiny-tagger.ts";

describe("parseCsv", () => {
  it("reads quoted fields with commas, doubled quotes and CRLF line ends", () => {
    expect(parseCsv('a,"b, c","say ""hi"""\r\n1,2,3\n')).toEqual([
      ["a", "b, c", 'say "hi"'],
      ["1", "2", "3"],
    ]);
  });
});

describe("parseSelectedTags", () => {
  it("maps categories 9/0/4 to rating/general/character and keeps row order", () => {
    const labels = parseSelectedTags(selectedTagsCsv(TINY_TAGS), "selected_tags.csv");
    expect(labels.map((l) => l.name)).toEqual(TINY_TAGS.map((t) => t.name));
    expect(labels.slice(0, 4).every((l) => l.category === "rating")).toBe(true);
    expect(labels.find((l) => l.name === "^_^")?.category).toBe("general");
    expect(labels.find((l) => l.name === "hatsune_miku_(vocaloid)")?.category).toBe("character");
  });

  it('keeps other categories as "other" and a tag name with a comma intact', () => {
    const text = '\uFEFFtag_id,name,category,count\n1,"a,b",0,5\n2,some_artist,1,3\n';
    expect(parseSelectedTags(text, "x.csv")).toEqual([
      { name: "a,b", category: "general" },
      { name: "some_artist", category: "other" },
    ]);
  });

  it("names the file and line of a damaged row", () => {
    const text = "tag_id,name,category,count\n1,ok,0,5\n2,broken\n";
    expect(() => parseSelectedTags(text, "m/selected_tags.csv")).toThrow(/m\/selected_tags.csv, line 3/);
  });

  it("rejects a file that is not a tag list", () => {
    expect(() => parseSelectedTags("id,label\n1,cat\n", "labels.csv")).toThrow(DanluError);
  });
});
