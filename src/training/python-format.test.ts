import { describe, expect, test } from "vitest";
import { PyFloat, pyFloatRepr, pyJsonDumps, pyStr, pyTupleStr } from "./python-format.ts";

// Expected strings printed by Python 3.11 (repr, str, json.dumps).
describe("python formatting", () => {
  test("repr(float)", () => {
    const cases: [number, string][] = [
      [0, "0.0"], [1, "1.0"], [0.1, "0.1"], [1e-5, "1e-05"], [0.0001, "0.0001"], [1.5e-7, "1.5e-07"],
      [123.456, "123.456"], [1e16, "1e+16"], [1.2345678901234568e17, "1.2345678901234568e+17"],
      [1e15, "1000000000000000.0"], [2.5e-4, "0.00025"], [1 / 3, "0.3333333333333333"], [100, "100.0"],
      [0.05, "0.05"], [-2.5, "-2.5"],
    ]; // prettier-ignore
    for (const [value, expected] of cases) expect([value, pyFloatRepr(value)]).toEqual([value, expected]);
  });

  test("str() of scalars and tuples", () => {
    expect([pyStr(true), pyStr(false), pyStr(null), pyStr(7), pyStr(new PyFloat(0)), pyStr("x")]).toEqual([
      "True", "False", "None", "7", "0.0", "x",
    ]); // prettier-ignore
    expect(pyTupleStr([512, 512])).toBe("(512, 512)");
    expect(pyTupleStr([5])).toBe("(5,)");
    expect(() => pyStr(0.5)).toThrow(/PyFloat/);
  });

  test("json.dumps with ensure_ascii and Python's separators; Map keeps insertion order", () => {
    const value = new Map<string, unknown>([
      ['a"b\\', ["é", "笑顔", "\x7f", "\n\t", "😀"]],
      ["x", null],
      ["y", true],
      ["z", new PyFloat(1)],
    ]);
    expect(pyJsonDumps(value as never)).toBe(
      '{"a\\"b\\\\": ["\\u00e9", "\\u7b11\\u9854", "\\u007f", "\\n\\t", "\\ud83d\\ude00"], "x": null, "y": true, "z": 1.0}',
    );
    expect(pyJsonDumps(new Map([["2", 1], ["1", 2]]))).toBe('{"2": 1, "1": 2}'); // prettier-ignore
  });
});
