/**
 * Writes small ONNX models byte by byte (the protobuf wire format of onnx.proto), so tests and the
 * benchmark can run the real onnxruntime path offline with models whose output is known exactly.
 * Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, ...).
 */

type Field = Uint8Array;

function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n; // negative int64: two's complement, ten bytes
  const bytes: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return bytes;
}

const concat = (parts: readonly Uint8Array[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => [...part]));
const intField = (field: number, value: number | bigint): Field =>
  Uint8Array.from([...varint(field << 3), ...varint(value)]);
const bytesField = (field: number, bytes: Uint8Array): Field =>
  Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length), ...bytes]);
const stringField = (field: number, text: string): Field => bytesField(field, new TextEncoder().encode(text));
const message = (field: number, parts: readonly Field[]): Field => bytesField(field, concat(parts));

const FLOAT = 1; // TensorProto.DataType.FLOAT
const INT64 = 7;

/** A float32 tensor input/output; a dimension given as a string is symbolic (any size). */
export function tensorValue(
  field: 11 | 12,
  name: string,
  dims: readonly (number | string)[],
  elemType = FLOAT,
): Field {
  const shape = dims.map((dim) =>
    message(1, [typeof dim === "number" ? intField(1, dim) : stringField(2, dim)]),
  );
  const tensorType = message(1, [intField(1, elemType), message(2, shape)]);
  return message(field, [stringField(1, name), message(2, [tensorType])]);
}

export function floatInitializer(name: string, dims: readonly number[], values: readonly number[]): Field {
  const raw = new Uint8Array(Float32Array.from(values).buffer);
  return message(5, [
    ...dims.map((d) => intField(1, d)),
    intField(2, FLOAT),
    stringField(8, name),
    bytesField(9, raw),
  ]);
}

export function int64Initializer(name: string, values: readonly number[]): Field {
  const raw = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
  return message(5, [
    intField(1, values.length),
    intField(2, INT64),
    stringField(8, name),
    bytesField(9, raw),
  ]);
}

export type Attribute = { name: string } & ({ ints: number[] } | { int: number } | { string: string });

export function node(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Attribute[] = [],
): Field {
  const attrs = attributes.map((attr) => {
    if ("ints" in attr)
      return message(5, [
        stringField(1, attr.name),
        ...attr.ints.map((i) => intField(8, i)),
        intField(20, 7),
      ]);
    if ("int" in attr) return message(5, [stringField(1, attr.name), intField(3, attr.int), intField(20, 2)]);
    return message(5, [stringField(1, attr.name), stringField(4, attr.string), intField(20, 3)]);
  });
  return message(1, [
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(4, op),
    ...attrs,
  ]);
}

/** A whole model: graph parts (nodes, initializers, inputs, outputs) at opset 13, IR version 8. */
export function model(graphParts: readonly Field[], opset = 13): Uint8Array {
  const graph = message(7, [stringField(2, "danlu_tiny"), ...graphParts]);
  return concat([
    intField(1, 8),
    stringField(2, "danlu"),
    graph,
    message(8, [stringField(1, ""), intField(2, opset)]),
  ]);
}

/** Nearest-neighbour 2x "super-resolution": NCHW float in, NCHW float out at twice the size. */
export function nearest2xModel(): Uint8Array {
  return model([
    node("Resize", ["image", "", "scales"], ["upscaled"], [{ name: "mode", string: "nearest" }]),
    floatInitializer("scales", [4], [1, 1, 2, 2]),
    tensorValue(11, "image", [1, 3, "height", "width"]),
    tensorValue(12, "upscaled", [1, 3, "height2", "width2"]),
  ]);
}

/** A "matting" model with a fixed input size: alpha = mean of the three channels. */
export function brightnessMatteModel(size: number): Uint8Array {
  return model([
    node(
      "ReduceMean",
      ["image"],
      ["alpha"],
      [
        { name: "axes", ints: [1] },
        { name: "keepdims", int: 1 },
      ],
    ),
    tensorValue(11, "image", [1, 3, size, size]),
    tensorValue(12, "alpha", [1, 1, size, size]),
  ]);
}
