import { createHash } from "node:crypto";
import { join } from "node:path";
import sharp from "sharp";
import { openOutputFolder } from "../crop/output.ts";
import { listImages, openImage, toRaw, type RgbBackground } from "../images.ts";
import { readManifest } from "../manifest.ts";
import { fixedInputSize, loadOnnxModel, predictAlpha, type Normalisation } from "./onnx-image.ts";

/**
 * `danlu data matte`: background removal with a user-supplied ONNX matting/segmentation model
 * (U2-Net, IS-Net, BiRefNet, MODNet exports...). No model ships with danlu: the good ones carry
 * licences that a product cannot assume, so the user brings the one they may use.
 */
export interface MatteOptions {
  outDir: string;
  model: string;
  /** Model input side when its input shape is symbolic. @defaultValue 1024 */
  size?: number;
  /** Input normalisation the model was trained with. @defaultValue "imagenet" (U2-Net, IS-Net, BiRefNet) */
  normalise?: Normalisation;
  /** Flatten onto this colour; undefined keeps an RGBA PNG. kohya drops alpha without compositing, so flatten for training. */
  background?: RgbBackground;
  onProgress?: (done: number, total: number) => void;
}

export interface MatteEntry {
  file: string;
  status: "matted" | "failed";
  output?: string;
  reason?: string;
}

export async function matteDataset(
  dir: string,
  options: MatteOptions,
): Promise<{ outDir: string; entries: MatteEntry[] }> {
  const session = await loadOnnxModel(options.model);
  const side = options.size ?? 1024;
  const size = fixedInputSize(session) ?? [side, side];
  const files = await listImages(dir);
  const manifest = await readManifest(dir);
  const output = await openOutputFolder(options.outDir, dir);
  const entries: MatteEntry[] = [];
  try {
    for (const file of files) {
      // One at a time: onnxruntime already spreads one inference over every core.
      try {
        const rgb = await toRaw(openImage(join(dir, file)).autoOrient(), 3);
        const alpha = await predictAlpha(session, rgb, size, options.normalise ?? "imagenet");
        const fullAlpha = await sharp(alpha.data, {
          raw: { width: alpha.width, height: alpha.height, channels: 1 },
        })
          .resize(rgb.width, rgb.height, { fit: "fill", kernel: "lanczos3" })
          .raw()
          .toBuffer();
        let image = sharp(rgb.data, {
          raw: { width: rgb.width, height: rgb.height, channels: 3 },
        }).joinChannel(fullAlpha, {
          raw: { width: rgb.width, height: rgb.height, channels: 1 },
        });
        if (options.background)
          image = sharp(await image.png().toBuffer()).flatten({ background: options.background });
        const png = await image.png().toBuffer();
        const written = await output.add(file, png, {
          source: manifest.images[file]?.source ?? join(dir, file),
          sha256: createHash("sha256").update(png).digest("hex"),
          width: rgb.width,
          height: rgb.height,
          imported_at: new Date().toISOString(),
          derived_from: { file, operation: "matte" },
        });
        entries.push({ file, status: "matted", output: written });
      } catch (error) {
        entries.push({ file, status: "failed", reason: String(error).split("\n")[0] });
      }
      options.onProgress?.(entries.length, files.length);
    }
    return { outDir: output.dir, entries };
  } finally {
    await output.save();
  }
}
