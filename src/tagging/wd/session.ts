import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { DanluError } from "../../errors.ts";
import { readSelectedTags, type TagLabel } from "./labels.ts";
import { pullHint } from "../../models-store/sources.ts";

export const MODEL_FILE = "model.onnx";
export const TAGS_FILE = "selected_tags.csv";

/** A loaded WD tagger: NHWC float32 [batch, size, size, 3] in, [batch, labels.length] probabilities out. */
export interface WdTagger {
  name: string;
  folder: string;
  labels: TagLabel[];
  /** Input side in pixels, read from the model (448 for the published WD models). */
  inputSize: number;
  /** The model's fixed batch size, or undefined when the batch dimension is dynamic. */
  fixedBatch: number | undefined;
  /** One probability row per image, column i = labels[i]. */
  predict(images: Float32Array[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  /** onnxruntime intra-op threads; default: every core. */
  threads?: number;
}

/** Loads model.onnx + selected_tags.csv from a folder and checks they describe a WD tagger. */
export async function loadWdTagger(
  folder: string,
  name: string,
  options: LoadOptions = {},
): Promise<WdTagger> {
  const modelPath = join(folder, MODEL_FILE);
  if (!existsSync(modelPath)) {
    throw new DanluError(`${folder} has no ${MODEL_FILE}`, {
      hint: `a WD tagger folder holds ${MODEL_FILE} and ${TAGS_FILE} (${pullHint("wd-vit-tagger-v3")})`,
      code: "BAD_MODEL",
    });
  }
  const labels = await readSelectedTags(join(folder, TAGS_FILE));
  const session = await createSession(modelPath, options.threads ?? availableParallelism());
  try {
    const { inputSize, fixedBatch } = checkContract(session, labels.length, modelPath);
    return {
      name,
      folder,
      labels,
      inputSize,
      fixedBatch,
      async predict(images) {
        const rows: Float32Array[] = [];
        const chunk = fixedBatch ?? images.length;
        for (let start = 0; start < images.length; start += chunk) {
          const part = images.slice(start, start + chunk);
          // A model exported with a fixed batch gets its last chunk padded with zeros (rows dropped).
          const output = await runBatch(session, part, fixedBatch ?? part.length, inputSize, modelPath);
          for (let i = 0; i < part.length; i++) {
            rows.push(output.slice(i * labels.length, (i + 1) * labels.length));
          }
        }
        return rows;
      },
      dispose: () => session.release(),
    };
  } catch (error) {
    await session.release();
    throw error;
  }
}

async function runBatch(
  session: ort.InferenceSession,
  images: Float32Array[],
  batchSize: number,
  inputSize: number,
  modelPath: string,
): Promise<Float32Array> {
  const inputName = session.inputNames[0] ?? "";
  const outputName = session.outputNames[0] ?? "";
  const shape = [batchSize, inputSize, inputSize, 3];
  const result = await session.run({
    [inputName]: new ort.Tensor("float32", batchBuffer(images, batchSize), shape),
  });
  const data = result[outputName]?.data;
  if (!(data instanceof Float32Array)) {
    throw new DanluError(`${modelPath}: output ${outputName} is not float32`, { code: "BAD_MODEL" });
  }
  return data;
}

/**
 * One buffer for the whole batch. Images preprocessed into consecutive slots of one buffer (what
 * tagFolder does) are used in place: copying 8 images of 448x448x3 floats costs as much as a run.
 */
export function batchBuffer(images: Float32Array[], batchSize: number): Float32Array {
  const first = images[0];
  const length = first?.length ?? 0;
  const contiguous =
    first !== undefined &&
    images.length === batchSize &&
    images.every(
      (image, i) => image.buffer === first.buffer && image.byteOffset === first.byteOffset + i * length * 4,
    );
  if (contiguous) return new Float32Array(first.buffer, first.byteOffset, batchSize * length);
  const batch = new Float32Array(batchSize * length);
  images.forEach((image, i) => batch.set(image, i * length));
  return batch;
}

async function createSession(modelPath: string, threads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
  } catch (error) {
    throw new DanluError(`onnxruntime cannot load ${modelPath}: ${(error as Error).message}`, {
      hint: `the file is damaged or not an ONNX model; download it again (${pullHint("NAME")})`,
      code: "BAD_MODEL",
      cause: error,
    });
  }
}

/** The WD contract: one input [batch, H, W, 3] with H == W, one output [batch, number of labels]. */
function checkContract(session: ort.InferenceSession, labelCount: number, modelPath: string) {
  const input = session.inputMetadata[0];
  const output = session.outputMetadata[0];
  const inShape = input?.isTensor ? input.shape : [];
  const outShape = output?.isTensor ? output.shape : [];
  const [batch, height, width, channels] = inShape;
  if (inShape.length !== 4 || channels !== 3 || typeof height !== "number" || height !== width) {
    throw new DanluError(`${modelPath}: input shape [${inShape.join(", ")}] is not [batch, size, size, 3]`, {
      hint: "danlu runs WD v1.4/v2/v3 taggers (NHWC input, BGR 0-255); this model expects something else",
      code: "BAD_MODEL",
    });
  }
  const columns = outShape[1];
  if (outShape.length !== 2 || (typeof columns === "number" && columns !== labelCount)) {
    throw new DanluError(
      `${modelPath}: output shape [${outShape.join(", ")}] does not match the ${labelCount} rows of ${TAGS_FILE}`,
      { hint: `use the ${TAGS_FILE} that came with this model`, code: "BAD_MODEL" },
    );
  }
  const fixedBatch = typeof batch === "number" && batch > 0 ? batch : undefined;
  return { inputSize: height, fixedBatch };
}
