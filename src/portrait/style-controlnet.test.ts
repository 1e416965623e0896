import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStyleTemplate } from "./styles.ts";

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "danlu-style-cn-"));
  mkdirSync(join(dir, "poses"));
  writeFileSync(join(dir, "poses", "stand.png"), "not read here");
  writeFileSync(join(dir, "control_sd15_openpose.safetensors"), "");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("style templates: [[controlnet]]", () => {
  it("carry units with the image (and a model file) relative to the template; a model name stays a name", async () => {
    const dir = folder({
      "pose.toml": `prompt = "photo of {trigger}"
[[controlnet]]
model = "control_sd15_openpose.safetensors"
image = "poses/stand.png"
weight = 0.8
end = 0.6
[[controlnet]]
model = "control_v11f1p_sd15_depth"
image = "poses/stand.png"
preprocessor = "depth"
`,
      "one.toml": `prompt = "photo of {trigger}"
[controlnet]
model = "control_v11p_sd15_canny"
image = "poses/stand.png"
`,
    });
    const style = await readStyleTemplate(join(dir, "pose.toml"));
    expect(style.controlnets).toEqual([
      {
        model: join(dir, "control_sd15_openpose.safetensors"),
        image: join(dir, "poses", "stand.png"),
        weight: 0.8,
        end: 0.6,
      },
      { model: "control_v11f1p_sd15_depth", image: join(dir, "poses", "stand.png"), preprocessor: "depth" },
    ]);
    expect((await readStyleTemplate(join(dir, "one.toml"))).controlnets).toHaveLength(1);
  });

  it("name a missing image, an unknown key and an unknown preprocessor with the file and line", async () => {
    const dir = folder({
      "bad.toml": `prompt = "photo of {trigger}"
[[controlnet]]
model = "m"
image = "poses/missing.png"
`,
      "typo.toml": `prompt = "photo of {trigger}"
[[controlnet]]
model = "m"
image = "poses/stand.png"
wieght = 1
`,
      "pre.toml": `prompt = "photo of {trigger}"
[[controlnet]]
model = "m"
image = "poses/stand.png"
preprocessor = "hed"
`,
    });
    await expect(readStyleTemplate(join(dir, "bad.toml"))).rejects.toThrow(
      /bad\.toml line 2: controlnet image .*missing\.png: no such file/,
    );
    await expect(readStyleTemplate(join(dir, "typo.toml"))).rejects.toThrow(
      /unknown key controlnet\[0\]\.wieght \(did you mean weight\?\)/,
    );
    await expect(readStyleTemplate(join(dir, "pre.toml"))).rejects.toThrow(
      /controlnet\[0\]\.preprocessor must be one of none, canny, depth, openpose \(got "hed"\)/,
    );
  });
});
