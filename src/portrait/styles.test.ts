import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { loadStyles, pickStyles, readStyleTemplate, renderPrompt, SHIPPED_STYLES_DIR } from "./styles.ts";

const GOOD = 'prompt = "photo of {trigger}, smiling"\n';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "danlu-styles-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function problemOf(text: string, extra: Record<string, string> = {}): Promise<DanluError> {
  const dir = folder({ "broken.toml": text, ...extra });
  const error = await readStyleTemplate(join(dir, "broken.toml")).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DanluError);
  expect((error as DanluError).message).toContain(join(dir, "broken.toml"));
  return error as DanluError;
}

describe("shipped styles", () => {
  it("all load, with the six the issue asks for, each a portrait of the trigger", async () => {
    const styles = await loadStyles();
    expect([...styles.keys()].sort()).toEqual(
      ["business", "cyberpunk", "film", "hanfu", "id_photo", "watercolor"].sort(),
    );
    for (const style of styles.values()) {
      expect(style.file.startsWith(SHIPPED_STYLES_DIR)).toBe(true);
      expect(style.prompt).toContain("{trigger}");
      expect(style.negative.length, style.name).toBeGreaterThan(20);
      expect(style.titleZh, style.name).toMatch(/\p{Script=Han}/u);
      expect([style.sampler, style.width % 8, style.height % 8]).toEqual(["DPM++ 2M Karras", 0, 0]);
      expect(style.steps).toBeGreaterThanOrEqual(20);
      expect(style.loras).toEqual([]);
      expect(style.initImage).toBeUndefined();
    }
    const hanfu = styles.get("hanfu");
    expect([hanfu?.title, hanfu?.titleZh, hanfu?.width, hanfu?.height]).toEqual([
      "Traditional hanfu",
      "汉服古风",
      512,
      768,
    ]);
  });

  it("renderPrompt puts the trigger word and class where {trigger} is", async () => {
    const style = (await loadStyles()).get("id_photo");
    expect(style && renderPrompt(style, "dlperson", "woman")).toMatch(/ID photo of dlperson woman, head/);
    expect(renderPrompt({ prompt: "{trigger} and {trigger}" }, "sks", "")).toBe("sks and sks");
  });
});

describe("a broken template names the file and the key", () => {
  it.each([
    [
      "an unknown key, with a guess",
      `${GOOD}stesp = 20\n`,
      /line 2: unknown key stesp \(did you mean steps\?\)/,
    ],
    ["no {trigger}", 'prompt = "photo of a woman"\n', /line 1: prompt has no \{trigger\}/],
    [
      "a misspelt placeholder",
      'prompt = "photo of {triger}"\n',
      /prompt has \{triger\}.*did you mean trigger/,
    ],
    ["no prompt", "steps = 20\n", /broken\.toml: prompt is missing/],
    [
      "a sampler danlu lacks",
      `${GOOD}sampler = "DPM++ 9M"\n`,
      /line 2: sampler is not a sampler danlu knows; use one of: DPM\+\+ 2M/,
    ],
    ["a width not a multiple of 8", `${GOOD}width = 500\n`, /line 2: width must be a multiple of 8/],
    ["a wrong type", `${GOOD}steps = "many"\n`, /line 2: steps must be a whole number 1-150 \(got "many"\)/],
    [
      "a missing init image",
      `${GOOD}init_image = "ref.png"\n`,
      /line 2: init_image .*ref\.png: no such file/,
    ],
    ["strength without init_image", `${GOOD}strength = 0.5\n`, /line 2: strength is the img2img strength/],
    [
      "a missing lora file",
      `${GOOD}[lora]\nfile = "x.safetensors"\n`,
      /line 2: lora file .*x\.safetensors: no such file/,
    ],
    [
      "an unknown lora key",
      `${GOOD}[lora]\nfile = "x.safetensors"\nweigth = 1\n`,
      /line 2: unknown key lora\.weigth \(did you mean weight\?\)/,
    ],
    [
      "A1111 prompt editing",
      'prompt = "photo of {trigger}, [cat:dog:0.5]"\n',
      /line 1: prompt .*\[cat:dog:0\.5\]/,
    ],
    [
      "a <lora:> tag",
      'prompt = "photo of {trigger} <lora:x:1>"\n',
      /prompt has a <lora:\.\.\.> tag; a template names its LoRA in a \[lora\] table/,
    ],
    ["a bad name", `name = "ID Photo"\n${GOOD}`, /line 1: name must be a name of lower-case letters/],
  ])("%s", async (_what, text, message) => {
    const error = await problemOf(text);
    expect(error.message).toMatch(message);
    expect(error.code).toBe("STYLE_INVALID");
  });

  it("a TOML syntax error says where", async () => {
    const error = await problemOf(`${GOOD}steps = \n`);
    expect(error.message).toMatch(/broken\.toml line 2 column \d+/);
    expect(error.code).toBe("CONFIG_SYNTAX");
  });

  it("reports every problem of a file at once", async () => {
    const error = await problemOf('prompt = "x"\nwidth = 7\ncfgg = 7\n');
    expect(error.message).toMatch(/has 3 problems/);
  });

  it("takes img2img references and style LoRAs relative to the template", async () => {
    const dir = folder({
      "ref.png": "",
      "ink.safetensors": "",
      "ink.toml": `${GOOD}init_image = "ref.png"\nstrength = 0.45\n[[lora]]\nfile = "ink.safetensors"\nweight = 0.7\n`,
    });
    const style = await readStyleTemplate(join(dir, "ink.toml"));
    expect([style.name, style.title, style.initImage, style.strength, style.sampler]).toEqual([
      "ink",
      "ink",
      join(dir, "ref.png"),
      0.45,
      "DPM++ 2M Karras",
    ]);
    expect(style.loras).toEqual([{ file: join(dir, "ink.safetensors"), weight: 0.7 }]);
  });
});

describe("a user folder", () => {
  it("adds styles and overrides a shipped one by name", async () => {
    const userDir = folder({
      "mine.toml": `${GOOD}title = "Mine"\n`,
      "ID.toml": `name = "id_photo"\n${GOOD}steps = 30\n`,
      "notes.txt": "not a template",
    });
    const styles = await loadStyles({ userDir });
    expect(styles.get("mine")?.title).toBe("Mine");
    expect(styles.get("id_photo")?.steps).toBe(30);
    expect(styles.get("id_photo")?.file).toBe(join(userDir, "ID.toml"));
    expect(styles.size).toBe(7);
  });

  it("must exist, and two templates of one name are an error naming both", async () => {
    await expect(loadStyles({ userDir: "/no/such/folder" })).rejects.toThrow(/no such folder/);
    const userDir = folder({ "a.toml": `name = "x"\n${GOOD}`, "b.toml": `name = "x"\n${GOOD}` });
    await expect(loadStyles({ userDir })).rejects.toThrow(/b\.toml: style x is also defined by .*a\.toml/);
  });
});

describe("pickStyles", () => {
  it("returns the named styles in order, or all of them", async () => {
    const all = await loadStyles();
    expect(pickStyles(all, ["hanfu", "film", "hanfu"]).map((s) => s.name)).toEqual(["hanfu", "film"]);
    expect(pickStyles(all, undefined)).toHaveLength(all.size);
  });

  it("an unknown name lists the choices", async () => {
    const all = await loadStyles();
    const error = (() => {
      try {
        pickStyles(all, ["hanfu", "cyberpunkk"]);
      } catch (e) {
        return e as DanluError;
      }
      return undefined;
    })();
    expect(error?.message).toBe("unknown style 'cyberpunkk' (did you mean cyberpunk?)");
    expect(error?.hint).toMatch(/styles: business, cyberpunk, film, hanfu, id_photo, watercolor/);
    expect(() => pickStyles(all, [])).toThrow(/no style named/);
  });
});

describe("detail_faces", () => {
  it("is on by default; false turns it off; a table sets the face prompt ({trigger}) and denoising", async () => {
    for (const style of (await loadStyles()).values()) expect(style.detailFaces, style.name).toEqual({});
    const dir = folder({
      "off.toml": `${GOOD}detail_faces = false\n`,
      "own.toml": `${GOOD}[detail_faces]\nprompt = "detailed face of {trigger}"\ndenoising = 0.3\n`,
    });
    expect((await readStyleTemplate(join(dir, "off.toml"))).detailFaces).toBe(false);
    expect((await readStyleTemplate(join(dir, "own.toml"))).detailFaces).toEqual({
      prompt: "detailed face of {trigger}",
      denoising: 0.3,
    });
  });

  it("names a misspelt key in its table and a value out of range", async () => {
    const typo = await problemOf(`${GOOD}[detail_faces]\ndenoisng = 0.3\n`);
    expect(typo.message).toMatch(/unknown key detail_faces\.denoisng \(did you mean denoising\?\)/);
    const range = await problemOf(`${GOOD}[detail_faces]\ndenoising = 2\n`);
    expect(range.message).toMatch(/detail_faces/);
  });
});
