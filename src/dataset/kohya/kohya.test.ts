import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { DanluError } from "../../errors.ts";
import { baseCaption, parseSubsetFolderName, readKohyaDataset } from "./index.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-kohya-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a small solid-colour image; `orientation` sets the EXIF tag (6 = rotate 90, width/height swap). */
async function image(path: string, width: number, height: number, orientation?: number): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  let pipeline = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } });
  if (orientation) pipeline = pipeline.withMetadata({ orientation });
  const format = path.endsWith(".png") ? "png" : path.endsWith(".webp") ? "webp" : "jpeg";
  await pipeline.toFormat(format).toFile(path);
}

async function text(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
}

async function readError(options: Parameters<typeof readKohyaDataset>[0]): Promise<DanluError> {
  const error = await readKohyaDataset(options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DanluError);
  return error as DanluError;
}

describe("parseSubsetFolderName", () => {
  test("reads the repeat count and class tokens as sd-scripts does", () => {
    expect(parseSubsetFolderName("10_alice")).toEqual({ repeats: 10, name: "alice" });
    expect(parseSubsetFolderName("3_alice woman_v2")).toEqual({ repeats: 3, name: "alice woman_v2" });
    expect(parseSubsetFolderName("5")).toEqual({ repeats: 5, name: "" });
    expect(parseSubsetFolderName("010_x")).toEqual({ repeats: 10, name: "x" });
    expect(parseSubsetFolderName("alice")).toBeNull();
    expect(parseSubsetFolderName("10alice")).toBeNull();
    expect(parseSubsetFolderName("v2_alice")).toBeNull();
  });
});

describe("readKohyaDataset", () => {
  test("reads subsets, sizes after EXIF orientation, captions (BOM, CRLF) and class tokens", async () => {
    const train = join(root, "train");
    await image(join(train, "10_alice", "a.png"), 64, 48);
    await text(join(train, "10_alice", "a.txt"), "alice, smiling, red dress\r\n");
    await image(join(train, "10_alice", "b.JPG"), 40, 30, 6); // stored 40x30, shown 30x40
    await text(
      join(train, "10_alice", "b.txt"),
      new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from("alice, 笑顔")]),
    );
    await image(join(train, "10_alice", "c.webp"), 32, 32); // no caption: class tokens
    await image(join(train, "3_bob man", "x.jpg"), 50, 20);
    await text(join(train, "3_bob man", "x.txt"), "bob\nsecond line ignored");
    const reg = join(root, "reg");
    await image(join(reg, "1_man", "r1.png"), 16, 16);

    const dataset = await readKohyaDataset({ trainDataDir: train, regDataDir: reg, captionExtension: "txt" });
    expect(dataset.captionExtension).toBe(".txt");
    const summary = dataset.subsets.map((s) => ({
      dir: s.dir,
      name: s.name,
      repeats: s.repeats,
      isReg: s.isReg,
      images: s.images.map((i) => [i.path, i.width, i.height, i.caption]),
    }));
    expect(summary).toEqual([
      {
        dir: join(train, "10_alice"),
        name: "alice",
        repeats: 10,
        isReg: false,
        images: [
          [join(train, "10_alice", "a.png"), 64, 48, "alice, smiling, red dress"],
          [join(train, "10_alice", "b.JPG"), 30, 40, "alice, 笑顔"],
          [join(train, "10_alice", "c.webp"), 32, 32, null],
        ],
      },
      {
        dir: join(train, "3_bob man"),
        name: "bob man",
        repeats: 3,
        isReg: false,
        images: [[join(train, "3_bob man", "x.jpg"), 50, 20, "bob"]],
      },
      {
        dir: join(reg, "1_man"),
        name: "man",
        repeats: 1,
        isReg: true,
        images: [[join(reg, "1_man", "r1.png"), 16, 16, null]],
      },
    ]);
    const [alice] = dataset.subsets;
    expect(baseCaption(alice!.images[2]!, alice!)).toBe("alice");
    expect(dataset.warnings.join("\n")).toMatch(
      /10_alice': 1 image\(s\) have no '.txt' file and train with the class tokens 'alice'/,
    );
    expect(dataset.warnings.join("\n")).toMatch(/x.txt' has several lines: only the first is used/);
  });

  test("train_data_dir pointing at the image folder itself", async () => {
    const folder = join(root, "train", "10_alice");
    await image(join(folder, "a.png"), 16, 16);
    await image(join(folder, "b.png"), 16, 16);
    const error = await readError({ trainDataDir: folder, captionExtension: ".txt" });
    expect(error.message).toMatch(/holds 2 image\(s\) directly .* looks like the image folder itself/);
    expect(error.hint).toContain(`set train_data_dir to its parent folder '${join(root, "train")}'`);

    const plain = join(root, "photos");
    await image(join(plain, "a.png"), 16, 16);
    const plainError = await readError({ trainDataDir: plain, captionExtension: ".txt" });
    expect(plainError.hint).toContain(join(plain, "10_photos"));
  });

  test("subfolders without the repeat count: an error with the renames when none is valid", async () => {
    await image(join(root, "alice", "a.png"), 16, 16);
    await image(join(root, "bob", "b.png"), 16, 16);
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(/no subfolder of train_data_dir .* starts with a repeat count/);
    expect(error.hint).toContain("rename 'alice' to '10_alice', 'bob' to '10_bob'");
  });

  test("subfolders without the repeat count are ignored with a warning when others are valid", async () => {
    await image(join(root, "10_alice", "a.png"), 16, 16);
    await image(join(root, "old", "b.png"), 16, 16);
    await image(join(root, "loose.png"), 16, 16);
    const dataset = await readKohyaDataset({ trainDataDir: root, captionExtension: ".txt" });
    expect(dataset.subsets.map((s) => s.name)).toEqual(["alice"]);
    const warnings = dataset.warnings.join("\n");
    expect(warnings).toContain(`ignoring folder '${join(root, "old")}'`);
    expect(warnings).toContain("rename it to '10_old'");
    expect(warnings).toMatch(/ignoring 1 image\(s\) directly inside train_data_dir/);
  });

  test("a kohya folder inside another: no rename suggested, reg_data_dir pointed to", async () => {
    await image(join(root, "img", "10_alice", "a.png"), 16, 16);
    await image(join(root, "img", "reg", "1_woman", "r.png"), 16, 16);
    const dataset = await readKohyaDataset({ trainDataDir: join(root, "img"), captionExtension: ".txt" });
    const warnings = dataset.warnings.join("\n");
    expect(warnings).toContain(
      `ignoring folder '${join(root, "img", "reg")}': it holds {repeats}_{name} folders (1_woman) of its own; ` +
        "if they are regularization images, move",
    );
    expect(warnings).not.toContain("10_reg");

    // The kohya_ss project folder (img/, reg/) given as train_data_dir.
    await rm(join(root, "img", "reg"), { recursive: true });
    await image(join(root, "reg", "1_woman", "r.png"), 16, 16);
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(
      /has no \{repeats\}_\{name\} subfolders, but .* have: it is the folder above/,
    );
    expect(error.hint).toBe(
      `set train_data_dir to '${join(root, "img")}' and reg_data_dir to '${join(root, "reg")}'`,
    );
  });

  test("a repeat count of 0 is an error", async () => {
    await image(join(root, "0_alice", "a.png"), 16, 16);
    await image(join(root, "5_bob", "a.png"), 16, 16);
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(/'0_alice' .* repeat count below 1/);
    expect(error.hint).toContain("'0_alice' to '1_alice'");
  });

  test("no images found", async () => {
    await mkdir(join(root, "10_alice"));
    await text(join(root, "10_alice", "notes.md"), "x");
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(/no images found in the subfolders of train_data_dir/);
    const missing = await readError({ trainDataDir: join(root, "nope"), captionExtension: ".txt" });
    expect(missing.message).toMatch(/does not exist/);
  });

  test("unreadable images are all named", async () => {
    const folder = join(root, "10_alice");
    await image(join(folder, "good.png"), 16, 16);
    await copyFile(join(process.cwd(), "fixtures/photos/truncated.jpg"), join(folder, "broken.jpg"));
    await image(join(folder, "full.png"), 64, 64);
    const bytes = await readFile(join(folder, "full.png"));
    await writeFile(join(folder, "half.png"), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await text(join(folder, "notes.png"), "not an image");
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(/^3 image\(s\) cannot be read/);
    for (const name of ["broken.jpg", "half.png", "notes.png"])
      expect(error.message).toContain(join(folder, name));
    expect(error.message).not.toContain("good.png");
  });

  test("caption files without an image are all named", async () => {
    const folder = join(root, "10_alice");
    await image(join(folder, "a.png"), 16, 16);
    await text(join(folder, "a.txt"), "a");
    await text(join(folder, "renamed.txt"), "b");
    await text(join(folder, "gone.txt"), "c");
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toMatch(/^2 caption file\(s\) have no image/);
    expect(error.message).toContain(join(folder, "renamed.txt"));
    expect(error.message).toContain(join(folder, "gone.txt"));
  });

  test("captions with the other common extension are pointed out", async () => {
    await image(join(root, "10_alice", "a.png"), 16, 16);
    await text(join(root, "10_alice", "a.txt"), "alice");
    const dataset = await readKohyaDataset({ trainDataDir: root, captionExtension: ".caption" });
    expect(dataset.subsets[0]?.images[0]?.caption).toBeNull();
    expect(dataset.warnings.join("\n")).toMatch(/1 image\(s\) have no '.caption' caption but a '.txt' file/);
  });

  test("face-crop names find the caption of the original, as in sd-scripts", async () => {
    await image(join(root, "10_alice", "img_0_1_2_3.png"), 16, 16);
    await text(join(root, "10_alice", "img.caption"), "alice face");
    const dataset = await readKohyaDataset({ trainDataDir: root, captionExtension: ".caption" });
    expect(dataset.subsets[0]?.images[0]?.caption).toBe("alice face");
  });

  test("a caption file that is not UTF-8 is named", async () => {
    await image(join(root, "10_alice", "a.png"), 16, 16);
    await text(join(root, "10_alice", "a.txt"), new Uint8Array([0x61, 0xff, 0xfe, 0x62]));
    const error = await readError({ trainDataDir: root, captionExtension: ".txt" });
    expect(error.message).toBe(`caption file '${join(root, "10_alice", "a.txt")}' is not valid UTF-8`);
  });
});
