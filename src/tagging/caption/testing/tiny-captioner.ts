import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeOnnxModel } from "../../wd/testing/onnx-writer.ts";

/**
 * A tiny vision-encoder-decoder captioner in the transformers.js folder layout (config.json,
 * generation_config.json, preprocessor_config.json, tokenizer files, onnx/encoder_model.onnx,
 * onnx/decoder_model_merged.onnx with a key/value cache), with fixed weights chosen so greedy
 * decoding says "a bright photo" for an image brighter than mid-grey and "a dark photo" otherwise.
 *
 * Encoder: mean of the normalised pixels (-1..1) -> last_hidden_state [batch, 1, 1].
 * Decoder: next-token logits = T[token] + G[token] * brightness, where T walks
 * <start> -> "a" -> ("bright" | "dark") -> "photo" -> <end>, and G lets brightness pick the word.
 */
export const TINY_CAPTION_VOCAB = ["<|endoftext|>", "a", "bright", "dark", "photo"];

const END = 0;
const [A, BRIGHT, DARK, PHOTO] = [1, 2, 3, 4];
const V = TINY_CAPTION_VOCAB.length;

function transitionTable(): { next: number[]; gate: number[] } {
  const next = new Array<number>(V * V).fill(-10);
  const gate = new Array<number>(V * V).fill(0);
  const allow = (from: number, to: number, logit = 10) => (next[from * V + to] = logit);
  allow(END, A);
  allow(A, BRIGHT, 0);
  allow(A, DARK, 0);
  allow(BRIGHT, PHOTO);
  allow(DARK, PHOTO);
  allow(PHOTO, END);
  gate[A * V + BRIGHT] = 10;
  gate[A * V + DARK] = -10;
  return { next, gate };
}

function encoderModel(): Uint8Array {
  return encodeOnnxModel({
    name: "tiny-encoder",
    inputs: [{ name: "pixel_values", type: "float32", shape: ["batch_size", 3, "height", "width"] }],
    outputs: [{ name: "last_hidden_state", type: "float32", shape: ["batch_size", 1, 1] }],
    nodes: [
      {
        op: "ReduceMean",
        inputs: ["pixel_values", "axes"],
        outputs: ["mean"],
        attributes: { keepdims: { i: 1 } },
      },
      { op: "Reshape", inputs: ["mean", "shape"], outputs: ["last_hidden_state"] },
    ],
    initializers: [
      { name: "axes", type: "int64", dims: [3], values: [1, 2, 3] },
      { name: "shape", type: "int64", dims: [3], values: [-1, 1, 1] },
    ],
    opset: 18,
  });
}

function decoderModel(): Uint8Array {
  const { next, gate } = transitionTable();
  const cache = (name: string, length: string) => ({
    name,
    type: "float32" as const,
    shape: ["batch_size", 1, length, 1],
  });
  return encodeOnnxModel({
    name: "tiny-decoder",
    inputs: [
      { name: "input_ids", type: "int64", shape: ["batch_size", "decoder_sequence_length"] },
      { name: "encoder_hidden_states", type: "float32", shape: ["batch_size", "encoder_sequence_length", 1] },
      cache("past_key_values.0.key", "past_sequence_length"),
      cache("past_key_values.0.value", "past_sequence_length"),
    ],
    outputs: [
      { name: "logits", type: "float32", shape: ["batch_size", "decoder_sequence_length", V] },
      cache("present.0.key", "total_sequence_length"),
      cache("present.0.value", "total_sequence_length"),
    ],
    nodes: [
      { op: "Gather", inputs: ["next", "input_ids"], outputs: ["base"] },
      { op: "Gather", inputs: ["gate", "input_ids"], outputs: ["gates"] },
      { op: "ReduceMean", inputs: ["encoder_hidden_states", "axes12"], outputs: ["brightness"] },
      { op: "Mul", inputs: ["gates", "brightness"], outputs: ["steer"] },
      { op: "Add", inputs: ["base", "steer"], outputs: ["logits"] },
      // The cache only has to have the right shape: it carries the token ids seen so far.
      { op: "Cast", inputs: ["input_ids"], outputs: ["ids"], attributes: { to: { i: 1 } } },
      { op: "Unsqueeze", inputs: ["ids", "axes13"], outputs: ["step"] },
      {
        op: "Concat",
        inputs: ["past_key_values.0.key", "step"],
        outputs: ["present.0.key"],
        attributes: { axis: { i: 2 } },
      },
      {
        op: "Concat",
        inputs: ["past_key_values.0.value", "step"],
        outputs: ["present.0.value"],
        attributes: { axis: { i: 2 } },
      },
    ],
    initializers: [
      { name: "next", type: "float32", dims: [V, V], values: next },
      { name: "gate", type: "float32", dims: [V, V], values: gate },
      { name: "axes12", type: "int64", dims: [2], values: [1, 2] },
      { name: "axes13", type: "int64", dims: [2], values: [1, 3] },
    ],
    opset: 18,
  });
}

const CONFIG = {
  model_type: "vision-encoder-decoder",
  architectures: ["VisionEncoderDecoderModel"],
  is_encoder_decoder: true,
  decoder_start_token_id: END,
  pad_token_id: END,
  eos_token_id: END,
  encoder: { model_type: "vit", hidden_size: 1, image_size: 8, patch_size: 8, num_channels: 3 },
  decoder: {
    model_type: "gpt2",
    n_layer: 1,
    n_head: 1,
    n_embd: 1,
    vocab_size: V,
    bos_token_id: END,
    eos_token_id: END,
    add_cross_attention: true,
    is_decoder: true,
  },
};

const GENERATION_CONFIG = {
  decoder_start_token_id: END,
  bos_token_id: END,
  eos_token_id: END,
  pad_token_id: END,
};

const PREPROCESSOR_CONFIG = {
  image_processor_type: "ViTImageProcessor",
  do_resize: true,
  size: { height: 8, width: 8 },
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
};

function tokenizerJson(): object {
  const vocab = Object.fromEntries(TINY_CAPTION_VOCAB.map((token, id) => [token, id]));
  return {
    version: "1.0",
    added_tokens: [
      {
        id: END,
        content: "<|endoftext|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<|endoftext|>" },
  };
}

const TOKENIZER_CONFIG = {
  tokenizer_class: "GPT2Tokenizer",
  bos_token: "<|endoftext|>",
  eos_token: "<|endoftext|>",
  unk_token: "<|endoftext|>",
  pad_token: "<|endoftext|>",
};

/** Writes the tiny captioner into `folder` (created if missing). */
export async function writeTinyCaptioner(folder: string): Promise<void> {
  await mkdir(join(folder, "onnx"), { recursive: true });
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
  await writeFile(join(folder, "config.json"), json(CONFIG));
  await writeFile(join(folder, "generation_config.json"), json(GENERATION_CONFIG));
  await writeFile(join(folder, "preprocessor_config.json"), json(PREPROCESSOR_CONFIG));
  await writeFile(join(folder, "tokenizer.json"), json(tokenizerJson()));
  await writeFile(join(folder, "tokenizer_config.json"), json(TOKENIZER_CONFIG));
  await writeFile(join(folder, "onnx", "encoder_model.onnx"), encoderModel());
  await writeFile(join(folder, "onnx", "decoder_model_merged.onnx"), decoderModel());
}
