/**
 * safetensors dtypes: element sizes, the order the Python/Rust writer lays tensors out in, and
 * conversions between bytes and numbers (little-endian, as the format prescribes).
 */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;
export const DTYPES = Object.keys(DTYPE_BYTES) as Dtype[];

export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(DTYPE_BYTES, name);
}

/**
 * The safetensors writer sorts tensors by dtype, larger/later first, then by name (its Dtype enum order,
 * which is DTYPES above), so each tensor's offset stays aligned to its element size. Matching it makes
 * the data section, and so sshs_model_hash, identical to what Python writes for the same tensors.
 */
export function writerOrder(a: { name: string; dtype: Dtype }, b: { name: string; dtype: Dtype }): number {
  const rank = DTYPES.indexOf(b.dtype) - DTYPES.indexOf(a.dtype);
  if (rank !== 0) return rank;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** IEEE half -> number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number -> IEEE half bits, rounding to nearest even (as torch does). */
export function numberToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1; // may carry into the exponent: still correct
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

/** number -> bfloat16 bits (the top half of float32), rounding to nearest even. */
export function numberToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  if (Number.isNaN(value)) return 0x7fc0;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0] ?? 0;
}

/** Decodes a tensor's bytes into numbers (8-bit floats are not decoded: an error). */
export function decodeValues(dtype: Dtype, bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  const read: Partial<Record<Dtype, (offset: number) => number>> = {
    BOOL: (o) => view.getUint8(o),
    U8: (o) => view.getUint8(o),
    I8: (o) => view.getInt8(o),
    I16: (o) => view.getInt16(o, true),
    U16: (o) => view.getUint16(o, true),
    F16: (o) => halfToNumber(view.getUint16(o, true)),
    BF16: (o) => bf16ToNumber(view.getUint16(o, true)),
    I32: (o) => view.getInt32(o, true),
    U32: (o) => view.getUint32(o, true),
    F32: (o) => view.getFloat32(o, true),
    F64: (o) => view.getFloat64(o, true),
    I64: (o) => Number(view.getBigInt64(o, true)),
    U64: (o) => Number(view.getBigUint64(o, true)),
  };
  const reader = read[dtype];
  if (!reader) throw new Error(`decoding ${dtype} values is not supported`);
  return Array.from({ length: count }, (_, i) => reader(i * DTYPE_BYTES[dtype]));
}

/** Encodes numbers as a tensor's bytes (float and integer dtypes). */
export function encodeValues(dtype: Dtype, values: ArrayLike<number>): Uint8Array {
  const size = DTYPE_BYTES[dtype];
  const bytes = new Uint8Array(values.length * size);
  const view = new DataView(bytes.buffer);
  const write: Partial<Record<Dtype, (offset: number, v: number) => void>> = {
    BOOL: (o, v) => view.setUint8(o, v ? 1 : 0),
    U8: (o, v) => view.setUint8(o, v),
    I8: (o, v) => view.setInt8(o, v),
    I16: (o, v) => view.setInt16(o, v, true),
    U16: (o, v) => view.setUint16(o, v, true),
    F16: (o, v) => view.setUint16(o, numberToHalf(v), true),
    BF16: (o, v) => view.setUint16(o, numberToBf16(v), true),
    I32: (o, v) => view.setInt32(o, v, true),
    U32: (o, v) => view.setUint32(o, v, true),
    F32: (o, v) => view.setFloat32(o, v, true),
    F64: (o, v) => view.setFloat64(o, v, true),
    I64: (o, v) => view.setBigInt64(o, BigInt(Math.trunc(v)), true),
    U64: (o, v) => view.setBigUint64(o, BigInt(Math.trunc(v)), true),
  };
  const writer = write[dtype];
  if (!writer) throw new Error(`encoding ${dtype} values is not supported`);
  for (let i = 0; i < values.length; i++) writer(i * size, values[i] ?? 0);
  return bytes;
}
