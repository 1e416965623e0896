import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeOnnxModel, type GraphNode, type Initializer } from "./onnx-writer.ts";

/**
 * Test and benchmark models with the WD tagger contract: [batch, S, S, 3] float32 BGR 0-255 in,
 * [batch, N] sigmoid probabilities out, plus a matching selected_tags.csv. Weights are fixed so that
 * known images give known tags.
 */
export interface TinyTag {
  name: string;
  /** selected_tags.csv category: 9 rating, 0 general, 4 character. */
  category: 9 | 0 | 4;
  /** logit = bias + weights . [B, G, R] channel means scaled to 0-1 */
  weights: [number, number, number];
  bias: number;
}

const logit = (p: number) => Math.log(p / (1 - p));

/**
 * The default vocabulary. On solid colours: pure blue -> blue_theme (0.9975) and ^_^ (0.73);
 * pure red -> red_theme, hatsune_miku_(vocaloid) (0.88) and kirisame_marisa_(touhou) (0.5);
 * white -> white_background (0.88) and hatsune_miku_(vocaloid) at 0.5; every image -> long_hair at exactly 0.30 (between the v3
 * precision=recall thresholds and 0.35) and rating "general" (0.88) over "sensitive" (0.5).
 */
export const TINY_TAGS: TinyTag[] = [
  { name: "general", category: 9, weights: [0, 0, 0], bias: 2 },
  { name: "sensitive", category: 9, weights: [0, 0, 0], bias: 0 },
  { name: "questionable", category: 9, weights: [0, 0, 0], bias: -2 },
  { name: "explicit", category: 9, weights: [0, 0, 0], bias: -4 },
  { name: "blue_theme", category: 0, weights: [8, -4, -4], bias: -2 },
  { name: "red_theme", category: 0, weights: [-4, -4, 8], bias: -2 },
  { name: "white_background", category: 0, weights: [4, 4, 4], bias: -10 },
  { name: "^_^", category: 0, weights: [4, -4, -4], bias: -3 },
  { name: "long_hair", category: 0, weights: [0, 0, 0], bias: logit(0.3) },
  { name: "hatsune_miku_(vocaloid)", category: 4, weights: [-5, -5, 10], bias: -8 },
  { name: "kirisame_marisa_(touhou)", category: 4, weights: [-4, -4, 8], bias: -8 },
];

export function selectedTagsCsv(rows: { name: string; category: number }[]): string {
  const quote = (name: string) => (/[",\n]/.test(name) ? `"${name.replaceAll('"', '""')}"` : name);
  const lines = rows.map((row, i) => `${i},${quote(row.name)},${row.category},${1000 - i}`);
  return ["tag_id,name,category,count", ...lines].join("\n") + "\n";
}

export interface TinyTaggerOptions {
  inputSize?: number;
  tags?: TinyTag[];
  /** A number fixes the batch dimension (some exports do); default dynamic. */
  batch?: number;
}

/** Channel means -> linear -> sigmoid. Writes model.onnx and selected_tags.csv into `folder`. */
export async function writeTinyTagger(folder: string, options: TinyTaggerOptions = {}): Promise<void> {
  const size = options.inputSize ?? 32;
  const tags = options.tags ?? TINY_TAGS;
  const batch = options.batch ?? "batch";
  const weights = [0, 1, 2].flatMap((channel) => tags.map((tag) => tag.weights[channel] ?? 0));
  const initializers: Initializer[] = [
    { name: "axes", type: "int64", dims: [2], values: [1, 2] },
    { name: "scale", type: "float32", dims: [], values: [1 / 255] },
    { name: "W", type: "float32", dims: [3, tags.length], values: weights },
    { name: "b", type: "float32", dims: [tags.length], values: tags.map((tag) => tag.bias) },
  ];
  const nodes: GraphNode[] = [
    { op: "ReduceMean", inputs: ["input_1", "axes"], outputs: ["mean"], attributes: { keepdims: { i: 0 } } },
    { op: "Mul", inputs: ["mean", "scale"], outputs: ["unit"] },
    { op: "MatMul", inputs: ["unit", "W"], outputs: ["linear"] },
    { op: "Add", inputs: ["linear", "b"], outputs: ["logits"] },
    { op: "Sigmoid", inputs: ["logits"], outputs: ["predictions_sigmoid"] },
  ];
  const model = encodeOnnxModel({
    name: "tiny-wd-tagger",
    inputs: [{ name: "input_1", type: "float32", shape: [batch, size, size, 3] }],
    outputs: [{ name: "predictions_sigmoid", type: "float32", shape: [batch, tags.length] }],
    nodes,
    initializers,
    opset: 18,
  });
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.onnx"), model);
  await writeFile(join(folder, "selected_tags.csv"), selectedTagsCsv(tags));
}

/**
 * A model whose "probabilities" are its input pixels (output column i = input value i in HWC order),
 * to check preprocessing number for number through the real inference path.
 */
export async function writeEchoTagger(folder: string, inputSize: number): Promise<void> {
  const count = inputSize * inputSize * 3;
  const model = encodeOnnxModel({
    name: "echo-wd-tagger",
    inputs: [{ name: "input_1", type: "float32", shape: ["batch", inputSize, inputSize, 3] }],
    outputs: [{ name: "pixels", type: "float32", shape: ["batch", count] }],
    nodes: [{ op: "Reshape", inputs: ["input_1", "shape"], outputs: ["pixels"] }],
    initializers: [{ name: "shape", type: "int64", dims: [2], values: [-1, count] }],
  });
  const rows = Array.from({ length: count }, (_, i) => ({ name: `value_${i}`, category: 0 }));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.onnx"), model);
  await writeFile(join(folder, "selected_tags.csv"), selectedTagsCsv(rows));
}
