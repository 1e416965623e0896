import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captionPathFor, composeCaption, readCaption, writeCaption } from "./caption-file.ts";

describe("composeCaption", () => {
  it("puts the sentence first, then the tags, without duplicates", () => {
    const text = composeCaption({
      sentence: " a cat on a sofa ",
      tags: ["cat", "sofa", "cat"],
      separator: ", ",
      mode: "overwrite",
      existing: "old, text",
    });
    expect(text).toBe("a cat on a sofa, cat, sofa");
  });

  it("appends only what the existing caption lacks, keeping its text as it is", () => {
    const text = composeCaption({
      tags: ["cat", "sofa", "indoors"],
      separator: ", ",
      mode: "append",
      existing: "mytrigger,cat ,  sofa\n",
    });
    expect(text).toBe("mytrigger,cat ,  sofa, indoors");
  });

  it("does not add a sentence the existing caption already holds", () => {
    const text = composeCaption({
      sentence: "a cat, sleeping",
      tags: ["cat"],
      separator: ", ",
      mode: "append",
      existing: "a cat, sleeping, cat",
    });
    expect(text).toBe("a cat, sleeping, cat");
  });

  it("uses the separator given", () => {
    expect(composeCaption({ tags: ["a", "b"], separator: " | ", mode: "overwrite" })).toBe("a | b");
  });
});

describe("caption files", () => {
  it("names the caption after the image", () => {
    expect(captionPathFor("/d/x.y.png", ".txt")).toBe("/d/x.y.txt");
    expect(captionPathFor("/d/a.jpg", "caption")).toBe("/d/a.caption");
  });

  it("writes atomically (no temp file left) and reads back without a BOM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "danlu-caption-"));
    const path = join(dir, "a.txt");
    expect(await readCaption(path)).toBeUndefined();
    await writeCaption(path, "one, two");
    expect(await readFile(path, "utf8")).toBe("one, two\n");
    expect(await readdir(dir)).toEqual(["a.txt"]);
    await writeFile(path, "\uFEFFbom, text");
    expect(await readCaption(path)).toBe("bom, text");
    await rm(dir, { recursive: true, force: true });
  });
});
