import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeOnnxModel, type GraphSpec } from "../../wd/testing/onnx-writer.ts";

/**
 * A tiny Florence-2 in the transformers.js layout (onnx/vision_encoder, embed_tokens, encoder_model,
 * decoder_model_merged + processor, tokenizer and generation configs) with fixed weights: greedy
 * decoding says "a bright photo" for an image brighter than mid-grey and "a dark photo" otherwise,
 * whatever the task prompt.
 *
 * Hidden size D = V + 1: token embeddings are one-hot in the first V dimensions, the vision encoder
 * writes the image's mean normalised pixel into the last one, the encoder passes embeddings through,
 * and the decoder reads next-token logits from a transition table steered by that brightness.
 */
const VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "a", "bright", "dark", "photo"];
const [BOS, PAD, EOS, UNK, A, BRIGHT, DARK, PHOTO] = [0, 1, 2, 3, 4, 5, 6, 7];
const V = VOCAB.length;
const D = V + 1;

function tables(): { next: number[]; gate: number[] } {
  const next = new Array<number>(V * V).fill(-10);
  const gate = new Array<number>(V * V).fill(0);
  const allow = (from: number, to: number, logit = 10) => (next[from * V + to] = logit);
  allow(EOS, A); // the decoder starts from </s>, as BART-style models do
  allow(A, BRIGHT, 0);
  allow(A, DARK, 0);
  allow(BRIGHT, PHOTO);
  allow(DARK, PHOTO);
  allow(PHOTO, EOS);
  gate[A * V + BRIGHT] = 10;
  gate[A * V + DARK] = -10;
  return { next, gate };
}

const model = (spec: Omit<GraphSpec, "opset">) => encodeOnnxModel({ ...spec, opset: 18 });
const i64 = (name: string, values: number[]) => ({
  name,
  type: "int64" as const,
  dims: [values.length],
  values,
});

function visionEncoder(): Uint8Array {
  const lastDim = Array.from({ length: D }, (_, i) => (i === V ? 1 : 0));
  return model({
    name: "vision_encoder",
    inputs: [{ name: "pixel_values", type: "float32", shape: ["batch_size", 3, "height", "width"] }],
    outputs: [{ name: "image_features", type: "float32", shape: ["batch_size", 1, D] }],
    nodes: [
      { op: "ReduceMean", inputs: ["pixel_values", "axes"], outputs: ["mean"] },
      { op: "Reshape", inputs: ["mean", "shape"], outputs: ["column"] },
      { op: "Mul", inputs: ["column", "last"], outputs: ["image_features"] },
    ],
    initializers: [
      i64("axes", [1, 2, 3]),
      i64("shape", [-1, 1, 1]),
      { name: "last", type: "float32", dims: [1, 1, D], values: lastDim },
    ],
  });
}

function embedTokens(): Uint8Array {
  const oneHot = Array.from({ length: V * D }, (_, i) => (Math.floor(i / D) === i % D ? 1 : 0));
  return model({
    name: "embed_tokens",
    inputs: [{ name: "input_ids", type: "int64", shape: ["batch_size", "sequence_length"] }],
    outputs: [{ name: "inputs_embeds", type: "float32", shape: ["batch_size", "sequence_length", D] }],
    nodes: [{ op: "Gather", inputs: ["table", "input_ids"], outputs: ["inputs_embeds"] }],
    initializers: [{ name: "table", type: "float32", dims: [V, D], values: oneHot }],
  });
}

function encoderModel(): Uint8Array {
  return model({
    name: "encoder_model",
    inputs: [
      { name: "inputs_embeds", type: "float32", shape: ["batch_size", "encoder_sequence_length", D] },
      { name: "attention_mask", type: "int64", shape: ["batch_size", "encoder_sequence_length"] },
    ],
    outputs: [
      { name: "last_hidden_state", type: "float32", shape: ["batch_size", "encoder_sequence_length", D] },
    ],
    nodes: [{ op: "Identity", inputs: ["inputs_embeds"], outputs: ["last_hidden_state"] }],
    initializers: [],
  });
}

function decoderModel(): Uint8Array {
  const { next, gate } = tables();
  const cache = (name: string, length: string) => ({
    name,
    type: "float32" as const,
    shape: ["batch_size", 1, length, 1],
  });
  return model({
    name: "decoder_model_merged",
    inputs: [
      { name: "inputs_embeds", type: "float32", shape: ["batch_size", "decoder_sequence_length", D] },
      { name: "encoder_hidden_states", type: "float32", shape: ["batch_size", "encoder_sequence_length", D] },
      { name: "encoder_attention_mask", type: "int64", shape: ["batch_size", "encoder_sequence_length"] },
      cache("past_key_values.0.decoder.key", "past_decoder_sequence_length"),
      cache("past_key_values.0.decoder.value", "past_decoder_sequence_length"),
      cache("past_key_values.0.encoder.key", "encoder_sequence_length_out"),
      cache("past_key_values.0.encoder.value", "encoder_sequence_length_out"),
    ],
    outputs: [
      { name: "logits", type: "float32", shape: ["batch_size", "decoder_sequence_length", V] },
      cache("present.0.decoder.key", "total_sequence_length"),
      cache("present.0.decoder.value", "total_sequence_length"),
      cache("present.0.encoder.key", "encoder_sequence_length_out"),
      cache("present.0.encoder.value", "encoder_sequence_length_out"),
    ],
    nodes: [
      { op: "Slice", inputs: ["inputs_embeds", "zero", "v", "minus1"], outputs: ["tokens"] },
      { op: "MatMul", inputs: ["tokens", "next"], outputs: ["base"] },
      { op: "MatMul", inputs: ["tokens", "gate"], outputs: ["gates"] },
      { op: "Slice", inputs: ["encoder_hidden_states", "v", "d", "minus1"], outputs: ["image"] },
      { op: "ReduceSum", inputs: ["image", "axes12"], outputs: ["brightness"] },
      { op: "Mul", inputs: ["gates", "brightness"], outputs: ["steer"] },
      { op: "Add", inputs: ["base", "steer"], outputs: ["logits"] },
      // The cache only needs the right shape: one value per decoded position.
      { op: "ReduceSum", inputs: ["tokens", "minus1"], outputs: ["summed"] },
      { op: "Unsqueeze", inputs: ["summed", "one"], outputs: ["step"] },
      {
        op: "Concat",
        inputs: ["past_key_values.0.decoder.key", "step"],
        outputs: ["present.0.decoder.key"],
        attributes: { axis: { i: 2 } },
      },
      {
        op: "Concat",
        inputs: ["past_key_values.0.decoder.value", "step"],
        outputs: ["present.0.decoder.value"],
        attributes: { axis: { i: 2 } },
      },
      { op: "Identity", inputs: ["past_key_values.0.encoder.key"], outputs: ["present.0.encoder.key"] },
      { op: "Identity", inputs: ["past_key_values.0.encoder.value"], outputs: ["present.0.encoder.value"] },
    ],
    initializers: [
      { name: "next", type: "float32", dims: [V, V], values: next },
      { name: "gate", type: "float32", dims: [V, V], values: gate },
      i64("zero", [0]),
      i64("v", [V]),
      i64("d", [D]),
      i64("minus1", [-1]),
      i64("one", [1]),
      i64("axes12", [1, 2]),
    ],
  });
}

const TASK_PROMPTS = {
  "<CAPTION>": "What does the image describe?",
  "<DETAILED_CAPTION>": "Describe in detail what is shown in the image.",
  "<MORE_DETAILED_CAPTION>": "Describe with a paragraph what is shown in the image.",
};

function configs(): Record<string, unknown> {
  const ids = { bos_token_id: BOS, pad_token_id: PAD, eos_token_id: EOS, decoder_start_token_id: EOS };
  const language = { model_type: "florence2_language", d_model: D, vocab_size: V, ...ids };
  const layers = {
    encoder_layers: 1,
    decoder_layers: 1,
    encoder_attention_heads: 1,
    decoder_attention_heads: 1,
  };
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    "config.json": {
      model_type: "florence2",
      architectures: ["Florence2ForConditionalGeneration"],
      is_encoder_decoder: true,
      text_config: { ...language, ...layers },
      vision_config: { model_type: "davit" },
      ...ids,
    },
    "generation_config.json": { ...ids, max_length: 20 },
    "preprocessor_config.json": {
      processor_class: "Florence2Processor",
      image_processor_type: "CLIPImageProcessor",
      do_resize: true,
      size: { height: 8, width: 8 },
      do_center_crop: false,
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      tasks_answer_post_processing_type: Object.fromEntries(
        Object.keys(TASK_PROMPTS).map((t) => [t, "pure_text"]),
      ),
      task_prompts_without_inputs: TASK_PROMPTS,
      task_prompts_with_input: {},
    },
    "tokenizer.json": {
      version: "1.0",
      added_tokens: [special("<s>", BOS), special("<pad>", PAD), special("</s>", EOS), special("<unk>", UNK)],
      normalizer: null,
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: null,
      decoder: null,
      model: {
        type: "WordLevel",
        vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])),
        unk_token: "<unk>",
      },
    },
    "tokenizer_config.json": {
      tokenizer_class: "BartTokenizer",
      bos_token: "<s>",
      eos_token: "</s>",
      pad_token: "<pad>",
      unk_token: "<unk>",
    },
  };
}

/** Writes the tiny Florence-2 into `folder` (created if missing). */
export async function writeTinyFlorence(folder: string): Promise<void> {
  await mkdir(join(folder, "onnx"), { recursive: true });
  for (const [name, value] of Object.entries(configs())) {
    await writeFile(join(folder, name), JSON.stringify(value, null, 2) + "\n");
  }
  await writeFile(join(folder, "onnx", "vision_encoder.onnx"), visionEncoder());
  await writeFile(join(folder, "onnx", "embed_tokens.onnx"), embedTokens());
  await writeFile(join(folder, "onnx", "encoder_model.onnx"), encoderModel());
  await writeFile(join(folder, "onnx", "decoder_model_merged.onnx"), decoderModel());
}
