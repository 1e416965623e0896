import { describe, expect, it } from "vitest";
import { decodeCaption } from "./captions.ts";
import { NameAllocator, safeStem } from "./names.ts";

describe("safeStem", () => {
  it("keeps letters of any script and replaces separators and punctuation", () => {
    expect(safeStem("IMG 0001 (copy)")).toBe("IMG_0001_copy");
    expect(safeStem("../../etc/passwd")).toBe("etc_passwd");
    expect(safeStem("写真:東京?")).toBe("写真_東京");
    expect(safeStem("...")).toBe("image");
    expect(safeStem("CON")).toBe("image_CON");
  });

  it("caps a stem at 120 bytes without splitting a character", () => {
    const stem = safeStem("é".repeat(100));
    expect(Buffer.byteLength(stem)).toBeLessThanOrEqual(120);
    expect(stem).toBe("é".repeat(60));
  });
});

describe("NameAllocator", () => {
  it("never hands out a stem already in the folder, ignoring case and extension", () => {
    const names = new NameAllocator(["Photo.PNG", "photo-2.txt", "manifest.json"]);
    expect(names.reserve("photo", ".png")).toBe("photo-3.png");
    expect(names.reserve("photo", ".png")).toBe("photo-4.png");
    expect(names.reserve("other", ".png")).toBe("other.png");
  });
});

describe("decodeCaption", () => {
  it("reads UTF-8 with and without BOM and UTF-16 with BOM", () => {
    expect(decodeCaption(Buffer.from("a, b\r\n"))).toEqual({ text: "a, b", encoding: "utf-8" });
    expect(decodeCaption(Buffer.from("\uFEFFa")).encoding).toBe("utf-8-bom");
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("猫", "utf16le")]);
    expect(decodeCaption(le)).toEqual({ text: "猫", encoding: "utf-16le" });
  });

  it("refuses bytes that are not valid UTF-8 instead of inventing characters", () => {
    expect(() => decodeCaption(Buffer.from([0x61, 0xff, 0x62]))).toThrow();
  });
});
