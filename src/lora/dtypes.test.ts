import { describe, expect, it } from "vitest";
import {
  bf16ToNumber,
  decodeValues,
  encodeValues,
  halfToNumber,
  numberToBf16,
  numberToHalf,
} from "./dtypes.ts";

describe("half and bfloat16", () => {
  it("encodes known float16 bit patterns (round to nearest even)", () => {
    expect(numberToHalf(1)).toBe(0x3c00);
    expect(numberToHalf(-2)).toBe(0xc000);
    expect(numberToHalf(0.1)).toBe(0x2e66);
    expect(numberToHalf(65504)).toBe(0x7bff);
    expect(numberToHalf(70000)).toBe(0x7c00); // overflow -> inf
    expect(numberToHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(numberToHalf(2 ** -26)).toBe(0x0000);
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(numberToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it("decodes float16 including subnormals and infinities", () => {
    expect(halfToNumber(0x3c00)).toBe(1);
    expect(halfToNumber(0x2e66)).toBeCloseTo(0.0999755859375, 12);
    expect(halfToNumber(0x0001)).toBe(2 ** -24);
    expect(halfToNumber(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(halfToNumber(0x7e00)).toBeNaN();
  });

  it("round-trips bfloat16", () => {
    expect(numberToBf16(1)).toBe(0x3f80);
    expect(numberToBf16(16)).toBe(0x4180);
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(numberToBf16(3.14159))).toBeCloseTo(3.140625, 6);
  });

  it("encodes and decodes every numeric dtype", () => {
    const values = [0, 1, -3, 100];
    for (const dtype of ["I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64"] as const) {
      expect(decodeValues(dtype, encodeValues(dtype, values)), dtype).toEqual(values);
    }
    expect(decodeValues("U8", encodeValues("U8", [0, 255]))).toEqual([0, 255]);
  });
});
