import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { DanluError } from "../../errors.ts";
import { readKohyaDataset, readKohyaSubsets, type ExplicitSubset } from "./index.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-subsets-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function image(path: string, width: number, height: number): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const format = path.endsWith(".gif") ? "gif" : path.endsWith(".tif") ? "tiff" : "png";
  await sharp({ create: { width, height, channels: 3, background: "#804020" } })
    .toFormat(format)
    .toFile(path);
}

const subset = (image_dir: string, more: Partial<ExplicitSubset> = {}): ExplicitSubset => ({
  image_dir,
  num_repeats: 1,
  class_tokens: null,
  is_reg: false,
  ...more,
});

async function subsetsError(subsets: ExplicitSubset[]): Promise<DanluError> {
  const error = await readKohyaSubsets({ subsets, captionExtension: ".txt" }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DanluError);
  return error as DanluError;
}

describe("readKohyaSubsets", () => {
  test("each image_dir is one subset with its repeats, class tokens and is_reg, in the given order", async () => {
    await image(join(root, "photos", "b.png"), 40, 30);
    await image(join(root, "photos", "a.png"), 32, 32);
    await writeFile(join(root, "photos", "a.txt"), "alice, smiling\n");
    await image(join(root, "women", "w.png"), 16, 16);
    await image(join(root, "plain", "p.png"), 16, 16);
    const dataset = await readKohyaSubsets({
      captionExtension: "txt",
      subsets: [
        subset(join(root, "women"), { num_repeats: 1, class_tokens: "woman", is_reg: true }),
        subset(join(root, "photos"), { num_repeats: 8, class_tokens: "alice woman" }),
        subset(join(root, "plain"), { num_repeats: 2 }),
      ],
    });
    expect(dataset.captionExtension).toBe(".txt");
    expect(
      dataset.subsets.map((s) => [
        s.dir,
        s.name,
        s.repeats,
        s.isReg,
        s.images.map((i) => [i.width, i.caption]),
      ]),
    ).toEqual([
      [join(root, "women"), "woman", 1, true, [[16, null]]],
      [
        join(root, "photos"),
        "alice woman",
        8,
        false,
        [
          [32, "alice, smiling"],
          [40, null],
        ],
      ],
      [join(root, "plain"), "", 2, false, [[16, null]]],
    ]);
    const warnings = dataset.warnings.join("\n");
    expect(warnings).toContain(
      `'${join(root, "photos")}': 1 image(s) have no '.txt' file and train with the class tokens 'alice woman'`,
    );
    expect(warnings).toContain(
      `'${join(root, "plain")}': 1 image(s) have no '.txt' file and train with an empty caption`,
    );
  });

  test("a missing image_dir, a train_data_dir given as image_dir, only reg subsets, no images", async () => {
    const missing = await subsetsError([subset(join(root, "nope"))]);
    expect(missing.message).toBe(
      `image_dir '${join(root, "nope")}' (subset 1 of the dataset config) does not exist`,
    );

    await image(join(root, "train", "10_alice", "a.png"), 16, 16);
    const layout = await subsetsError([subset(join(root, "train"))]);
    expect(layout.message).toMatch(/holds \{repeats\}_\{name\} folders \(10_alice\) and no images/);
    expect(layout.hint).toContain(`--train-data-dir '${join(root, "train")}'`);

    const onlyReg = await subsetsError([subset(join(root, "train", "10_alice"), { is_reg: true })]);
    expect(onlyReg.message).toMatch(/all is_reg = true/);

    await mkdir(join(root, "empty"));
    const empty = await subsetsError([
      subset(join(root, "empty")),
      subset(join(root, "train", "10_alice"), { is_reg: true }),
    ]);
    expect(empty.message).toBe(
      `no images found in the image_dir of the training subsets ('${join(root, "empty")}')`,
    );
  });

  test("orphan captions and unreadable images are errors, as for train_data_dir", async () => {
    await image(join(root, "photos", "a.png"), 16, 16);
    await writeFile(join(root, "photos", "gone.txt"), "x");
    expect((await subsetsError([subset(join(root, "photos"))])).message).toMatch(
      /^1 caption file\(s\) have no image/,
    );
    await rm(join(root, "photos", "gone.txt"));
    await writeFile(join(root, "photos", "broken.png"), "not an image");
    expect((await subsetsError([subset(join(root, "photos"))])).message).toMatch(
      /^1 image\(s\) cannot be read/,
    );
  });
});

describe("image formats (one list: src/dataset/images.ts)", () => {
  test("GIF and TIFF train; BMP is an error naming every file; HEIC is ignored with a warning", async () => {
    const folder = join(root, "train", "5_x");
    await image(join(folder, "a.gif"), 24, 16);
    await image(join(folder, "b.tif"), 16, 24);
    await writeFile(join(folder, "c.heic"), "pretend HEIC");
    const dataset = await readKohyaDataset({ trainDataDir: join(root, "train"), captionExtension: ".txt" });
    expect(dataset.subsets[0]?.images.map((i) => [i.width, i.height])).toEqual([
      [24, 16],
      [16, 24],
    ]);
    expect(dataset.warnings.join("\n")).toContain("ignoring 1 image file(s) danlu cannot train on (c.heic)");

    await writeFile(join(folder, "d.BMP"), "BM");
    const error = await readKohyaDataset({
      trainDataDir: join(root, "train"),
      captionExtension: ".txt",
    }).catch((e: unknown) => e as DanluError);
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).message).toMatch(/^1 BMP image\(s\) cannot be read/);
    expect((error as DanluError).message).toContain(join(folder, "d.BMP"));
    expect((error as DanluError).hint).toContain("convert them to PNG");
  });
});
