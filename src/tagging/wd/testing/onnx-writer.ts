/**
 * A minimal ONNX model writer for tests and benchmarks: enough of the protobuf wire format
 * (onnx/onnx.proto3, field numbers below) to describe small graphs with fixed weights, so tests
 * build real models that onnxruntime-node loads, without Python or a model download.
 */

export type ElementType = "float32" | "int64";

export interface ValueInfo {
  name: string;
  type: ElementType;
  /** Numbers are fixed sizes, strings symbolic ones (e.g. "batch"). */
  shape: (number | string)[];
}

export interface Initializer {
  name: string;
  type: ElementType;
  dims: number[];
  values: ArrayLike<number>;
}

export type AttributeValue = { i: number } | { f: number } | { ints: number[] } | { floats: number[] };

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

export interface GraphSpec {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: GraphNode[];
  initializers: Initializer[];
  /** Default opset 17, understood by every onnxruntime since 1.14. */
  opset?: number;
}

// TensorProto.DataType values
const DATA_TYPE: Record<ElementType, number> = { float32: 1, int64: 7 };
// AttributeProto.AttributeType values
const ATTRIBUTE_TYPE = { f: 1, i: 2, floats: 6, ints: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** Appends protobuf fields to a growing byte list. */
class ProtoWriter {
  private readonly chunks: number[] = [];

  private varint(value: number | bigint): void {
    // int64 fields are encoded as unsigned 64-bit two's complement (negative axes take 10 bytes).
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.chunks.push(...bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LENGTH);
    this.varint(value.length);
    for (const byte of value) this.chunks.push(byte);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function rawData(type: ElementType, values: ArrayLike<number>): Uint8Array {
  if (type === "float32") return new Uint8Array(Float32Array.from(values).buffer);
  const ints = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) ints[i] = BigInt(values[i] ?? 0);
  return new Uint8Array(ints.buffer);
}

function writeTensor(w: ProtoWriter, tensor: Initializer): void {
  const expected = tensor.dims.reduce((a, b) => a * b, 1);
  if (expected !== tensor.values.length) {
    throw new Error(`initializer ${tensor.name}: dims ${tensor.dims} need ${expected} values`);
  }
  for (const dim of tensor.dims) w.int(1, dim); // dims
  w.int(2, DATA_TYPE[tensor.type]); // data_type
  w.string(8, tensor.name); // name
  w.bytes(9, rawData(tensor.type, tensor.values)); // raw_data, little-endian
}

function writeValueInfo(w: ProtoWriter, info: ValueInfo): void {
  w.string(1, info.name); // ValueInfoProto.name
  w.message(2, (type) =>
    // TypeProto.tensor_type -> elem_type, shape
    type.message(1, (tensor) => {
      tensor.int(1, DATA_TYPE[info.type]);
      tensor.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => (typeof dim === "number" ? d.int(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if ("f" in value) w.float(2, value.f).int(20, ATTRIBUTE_TYPE.f);
  else if ("i" in value) w.int(3, value.i).int(20, ATTRIBUTE_TYPE.i);
  else if ("floats" in value) {
    for (const f of value.floats) w.float(7, f);
    w.int(20, ATTRIBUTE_TYPE.floats);
  } else {
    for (const i of value.ints) w.int(8, i);
    w.int(20, ATTRIBUTE_TYPE.ints);
  }
}

function writeNode(w: ProtoWriter, node: GraphNode, index: number): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, `${node.op}_${index}`);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, name, value));
  }
}

/** Serialises a graph as an ONNX ModelProto (IR version 8). */
export function encodeOnnxModel(spec: GraphSpec): Uint8Array {
  const model = new ProtoWriter();
  model.int(1, 8); // ir_version
  model.string(2, "danlu-test"); // producer_name
  model.message(7, (graph) => {
    spec.nodes.forEach((node, i) => graph.message(1, (n) => writeNode(n, node, i)));
    graph.string(2, spec.name);
    for (const init of spec.initializers) graph.message(5, (t) => writeTensor(t, init));
    for (const input of spec.inputs) graph.message(11, (v) => writeValueInfo(v, input));
    for (const output of spec.outputs) graph.message(12, (v) => writeValueInfo(v, output));
  });
  model.message(8, (opset) => opset.string(1, "").int(2, spec.opset ?? 17)); // opset_import
  return model.finish();
}
