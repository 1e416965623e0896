import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import sharp from "sharp";
import { DanluError } from "../../errors.ts";
import { pullHint } from "../../models-store/sources.ts";

/**
 * Natural-language captions from a local model folder in the transformers.js layout (config.json,
 * tokenizer and preprocessor JSON files, onnx/*.onnx), run on onnxruntime-node. Never reaches a
 * network: remote models are switched off and the folder is read as a local path.
 *
 * Supported: vision-encoder-decoder models through the "image-to-text" pipeline (ViT-GPT2 and
 * similar) and Florence-2 (its caption tasks).
 */
export interface Captioner {
  name: string;
  caption(imagePaths: string[]): Promise<string[]>;
  dispose(): Promise<void>;
}

export type FlorenceTask = "<CAPTION>" | "<DETAILED_CAPTION>" | "<MORE_DETAILED_CAPTION>";

export interface CaptionerOptions {
  /** Florence-2 only; default "<DETAILED_CAPTION>". */
  task?: FlorenceTask;
  maxNewTokens?: number;
  threads?: number;
}

type Dtype = "fp32" | "q8";

function readConfig(folder: string): { model_type?: string } {
  const path = join(folder, "config.json");
  if (!existsSync(path)) {
    throw new DanluError(`${folder} has no config.json`, {
      hint: `a captioning model folder is in the transformers.js layout (${pullHint("vit-gpt2-image-captioning")})`,
      code: "BAD_MODEL",
    });
  }
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { model_type?: string };
  } catch (error) {
    throw new DanluError(`${path} is not valid JSON`, { code: "BAD_MODEL", cause: error });
  }
}

// transformers.js names a model file `onnx/NAME{suffix}.onnx`, the suffix giving its precision.
const REDUCED_PRECISION = ["_quantized", "_fp16", "_int8", "_uint8", "_q4", "_q4f16", "_bnb4"];

/** Full precision when the folder has it, else the 8-bit (`_quantized`) files. */
function pickDtype(folder: string): Dtype {
  const files = existsSync(join(folder, "onnx")) ? readdirSync(join(folder, "onnx")) : [];
  const isFullPrecision = (file: string) =>
    file.endsWith(".onnx") && !REDUCED_PRECISION.some((suffix) => file.endsWith(`${suffix}.onnx`));
  if (files.some(isFullPrecision)) return "fp32";
  if (files.some((file) => file.endsWith("_quantized.onnx"))) return "q8";
  throw new DanluError(`${join(folder, "onnx")} holds no fp32 or _quantized .onnx files`, {
    hint: `the folder is incomplete; pull it again (${pullHint("NAME")})`,
    code: "BAD_MODEL",
  });
}

/** Loads a captioner from a local folder. */
export async function loadCaptioner(folder: string, name: string, options: CaptionerOptions = {}) {
  const absolute = resolve(folder);
  const config = readConfig(absolute);
  const transformers = await import("@huggingface/transformers");
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  transformers.env.localModelPath = dirname(absolute);
  const load = {
    local_files_only: true,
    dtype: pickDtype(absolute),
    session_options: { intraOpNumThreads: options.threads ?? availableParallelism(), interOpNumThreads: 1 },
  };
  const maxNewTokens = options.maxNewTokens ?? 64;
  try {
    if (config.model_type === "florence2") {
      return await loadFlorence(
        transformers,
        absolute,
        name,
        load,
        options.task ?? "<DETAILED_CAPTION>",
        maxNewTokens,
      );
    }
    const captioner = await transformers.pipeline("image-to-text", absolute, load);
    return {
      name,
      async caption(imagePaths: string[]) {
        const images = await Promise.all(imagePaths.map((path) => readRgb(transformers, path)));
        const outputs = (await captioner(images, { max_new_tokens: maxNewTokens })) as unknown;
        return (outputs as { generated_text: string }[][]).map((out) =>
          cleanCaption(out[0]?.generated_text ?? ""),
        );
      },
      dispose: () => captioner.dispose(),
    } satisfies Captioner;
  } catch (error) {
    if (error instanceof DanluError) throw error;
    throw new DanluError(`cannot load the captioning model in ${folder}: ${(error as Error).message}`, {
      hint: "supported: vision-encoder-decoder models (e.g. vit-gpt2-image-captioning) and Florence-2",
      code: "BAD_MODEL",
      cause: error,
    });
  }
}

type Transformers = typeof import("@huggingface/transformers");

async function loadFlorence(
  t: Transformers,
  folder: string,
  name: string,
  load: object,
  task: FlorenceTask,
  maxNewTokens: number,
): Promise<Captioner> {
  const model = await t.Florence2ForConditionalGeneration.from_pretrained(folder, load);
  const processor = await t.AutoProcessor.from_pretrained(folder, load);
  const prompts = (processor as unknown as { construct_prompts(task: string): string[] }).construct_prompts(
    task,
  );
  return {
    name,
    async caption(imagePaths) {
      const captions: string[] = [];
      for (const path of imagePaths) {
        const image = await readRgb(t, path);
        const inputs = await processor(image, prompts);
        const ids = (await model.generate({ ...inputs, max_new_tokens: maxNewTokens })) as InstanceType<
          Transformers["Tensor"]
        >;
        const text = processor.batch_decode(ids, { skip_special_tokens: false })[0] ?? "";
        const parsed = (
          processor as unknown as {
            post_process_generation(
              text: string,
              task: string,
              size: [number, number],
            ): Record<string, unknown>;
          }
        ).post_process_generation(text, task, image.size);
        captions.push(cleanCaption(String(parsed[task] ?? "")));
      }
      return captions;
    },
    dispose: async () => {
      await model.dispose();
    },
  };
}

/**
 * Decodes an image the way the tagger does (EXIF orientation applied, alpha flattened onto white,
 * sRGB, 8-bit), so a transparent background reads as white rather than black.
 */
async function readRgb(t: Transformers, path: string) {
  const { data, info } = await sharp(path, { failOn: "error" })
    .autoOrient()
    .flatten({ background: "#ffffff" })
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  return new t.RawImage(
    new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    info.width,
    info.height,
    3,
  );
}

/** One line, no surrounding space, no trailing full stop (the caption continues with tags). */
export function cleanCaption(text: string): string {
  return text.replace(/\s+/g, " ").trim().replace(/\.$/, "");
}
