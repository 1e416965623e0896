import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// End-to-end: the real CLI (`node bin/danlu.js tags ...`) on a temp dataset folder.
const photo = join("fixtures", "photos", "chelsea.png");
let dir: string;

function danlu(...args: string[]) {
  const run = spawnSync(process.execPath, ["bin/danlu.js", "tags", ...args], { encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}
const caption = (name: string) => readFile(join(dir, `${name}.txt`), "utf8");

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-tags-"));
  const captions: Record<string, string> = {
    a: "1girl, blue eyes, long hair, smile",
    b: "1girl, blue eyes, long hair, hat, hat",
    c: "\ufeffsolo, blue eyes, short hair", // UTF-8 BOM, as some editors write
    d: "",
  };
  for (const [name, text] of Object.entries(captions)) {
    await copyFile(photo, join(dir, `${name}.png`));
    if (text) await writeFile(join(dir, `${name}.txt`), text);
  }
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("danlu tags", () => {
  it("prints a frequency table and JSON over the filtered images", () => {
    const text = danlu("freq", dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {4}3 {4}75% {2}blue eyes$/mu);
    const json = JSON.parse(danlu("freq", dir, "--json", "--any-of", "hat,smile").stdout);
    expect(json.images).toBe(2);
    expect(json.tags.slice(0, 3)).toEqual([
      { tag: "1girl", images: 2, share: 1 },
      { tag: "blue eyes", images: 2, share: 1 },
      { tag: "long hair", images: 2, share: 1 },
    ]);
  });

  it("filters with all/any/none and regex", () => {
    expect(danlu("filter", dir, "--all-of", "blue eyes", "--none-of", "hat").stdout).toBe("a.png\nc.png\n");
    expect(danlu("filter", dir, "--regex", "^(short|long) HAIR$", "-i", "--none-of", "smile").stdout).toBe(
      "b.png\nc.png\n",
    );
    const bad = danlu("filter", dir, "--regex", "(");
    expect([bad.code, bad.stderr]).toEqual([
      1,
      expect.stringMatching(/--regex: invalid regular expression/u),
    ]);
  });

  it("edits the filtered set, backs up, and undoes batch by batch", async () => {
    const replaced = danlu(
      "replace",
      dir,
      "--pattern",
      "^(\\w+) hair$",
      "--with",
      "$1-haired",
      "--none-of",
      "hat",
    );
    expect(replaced.stdout).toContain("changed 2 of 3 matching images");
    expect(await caption("a")).toBe("1girl, blue eyes, long-haired, smile");
    expect(await caption("b")).toBe("1girl, blue eyes, long hair, hat, hat");
    expect(danlu("dedupe", dir).stdout).toContain("changed 1 of 4");
    expect(await caption("b")).toBe("1girl, blue eyes, long hair, hat");
    expect(danlu("add", dir, "outdoors", "--front", "--keep-first", "1", "--all-of", "1girl").code).toBe(0);
    expect(await caption("a")).toBe("1girl, outdoors, blue eyes, long-haired, smile");
    expect(await readdir(join(dir, ".danlu-backups"))).toEqual(["0001", "0002", "0003"]);

    expect(danlu("undo", dir).stdout).toMatch(/undid batch 3 \(tags add outdoors\b/u);
    expect(danlu("undo", dir).stdout).toMatch(/undid batch 2 \(tags dedupe/u);
    expect(danlu("undo", dir).stdout).toMatch(/undid batch 1/u);
    expect([await caption("a"), await caption("c")]).toEqual([
      "1girl, blue eyes, long hair, smile",
      "\ufeffsolo, blue eyes, short hair", // restored byte for byte
    ]);
    const none = danlu("undo", dir);
    expect([none.code, none.stderr]).toEqual([1, expect.stringContaining("nothing to undo")]);
  });

  it("does not write on a dry run", async () => {
    const run = danlu("remove", dir, "smile", "hat", "--dry-run");
    expect(run.stdout).toContain("  + 1girl, blue eyes, long hair\n");
    expect(await caption("a")).toBe("1girl, blue eyes, long hair, smile");
    expect(existsSync(join(dir, ".danlu-backups"))).toBe(false);
  });

  it("bakes the trigger: proposal only without --yes, then applies", async () => {
    const proposal = danlu("bake", dir, "--trigger", "ohwx", "--min-share", "70");
    expect(proposal.code).toBe(0);
    expect(proposal.stdout).toContain("nothing changed");
    expect(proposal.stdout).toMatch(/75% {2}blue eyes/u);
    expect(await caption("a")).toBe("1girl, blue eyes, long hair, smile");

    expect(
      danlu("bake", dir, "--trigger", "ohwx", "--min-share", "50", "--except", "1girl", "--yes").code,
    ).toBe(0);
    expect([await caption("a"), await caption("c"), await caption("d")]).toEqual([
      "ohwx, 1girl, smile",
      "ohwx, solo, short hair",
      "ohwx",
    ]);
    // The trigger is now fixed for later edits (auto): sorting and removing leave it first.
    const sorted = danlu("sort", dir, "--by", "alpha", "--reverse");
    expect(sorted.stderr).toContain('keeping the first tag "ohwx" fixed');
    expect(await caption("c")).toBe("ohwx, solo, short hair");
    danlu("remove", dir, "ohwx", "--pattern", "^1girl$");
    expect(await caption("a")).toBe("ohwx, smile");
  });

  it("truncates to whole tags within the CLIP token budget", async () => {
    await writeFile(join(dir, "a.txt"), "ohwx, red hat, blue umbrella, very long flowing hair");
    danlu("truncate", dir, "--tokens", "11", "--keep-first", "0");
    // ohwx is 1 token, each two-word tag 2, each comma 1: 7 tokens; the last tag would bring it to 12.
    expect(await caption("a")).toBe("ohwx, red hat, blue umbrella");
    danlu("truncate", dir, "--tokens", "6", "--keep-first", "0");
    expect(await caption("a")).toBe("ohwx, red hat");
  });

  it("shows and sets one image's caption, recursive folders included", async () => {
    await mkdir(join(dir, "10_ohwx"));
    await copyFile(photo, join(dir, "10_ohwx", "e.png"));
    expect(danlu("edit", join(dir, "a.png")).stdout).toBe("1girl, blue eyes, long hair, smile\n");
    const set = danlu("edit", join(dir, "10_ohwx", "e.png"), "--set", "ohwx,  red hat", "--root", dir);
    expect(set.code).toBe(0);
    expect(await readFile(join(dir, "10_ohwx", "e.txt"), "utf8")).toBe("ohwx, red hat");
    expect(danlu("filter", dir, "-r", "--all-of", "red hat").stdout).toBe("10_ohwx/e.png\n");
    danlu("undo", dir);
    expect(existsSync(join(dir, "10_ohwx", "e.txt"))).toBe(false);
    expect(danlu("edit", join(dir, "missing.png")).stderr).toContain("does not exist");
  });

  it("uses another caption extension", async () => {
    await writeFile(join(dir, "a.caption"), "x, y");
    expect(danlu("filter", dir, "--ext", "caption", "--all-of", "y").stdout).toBe("a.png\n");
  });
});
