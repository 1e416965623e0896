/**
 * Python's str() and json.dumps() output for the values sd-scripts writes into ss_* metadata, so a danlu
 * LoRA's metadata reads exactly like one from sd-scripts (tools compare and parse these strings):
 * "True", "None", "(512, 512)", "0.0", "1e-05", and JSON with ", " / ": " separators and \uXXXX escapes.
 */

/** A number Python holds as a float (0 prints as "0.0"); plain numbers are ints. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyValue =
  | string
  | number
  | boolean
  | null
  | PyFloat
  | PyValue[]
  | ReadonlyMap<string, PyValue>
  | { readonly [key: string]: PyValue };

/** repr(float): shortest round-trip digits, positional for exponents -4..15, else "1e-05" style. */
export function pyFloatRepr(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`pyFloatRepr: ${x} has no Python literal here`);
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa = "", exponentText = "0"] = Math.abs(x).toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const digits = mantissa.replace(".", "");
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  return `${sign}${whole}.${digits.slice(exponent + 1) || "0"}`;
}

function pyInt(x: number): string {
  if (!Number.isInteger(x)) throw new Error(`pyInt: ${x} is not an integer (wrap floats in PyFloat)`);
  return String(x);
}

/** str() of a scalar, as in `{k: str(v) for k, v in metadata.items()}`. */
export function pyStr(value: string | number | boolean | null | PyFloat): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (typeof value === "number") return pyInt(value);
  return value;
}

/** str() of a tuple of ints: "(512, 512)". */
export function pyTupleStr(values: number[]): string {
  return values.length === 1 ? `(${pyInt(values[0] as number)},)` : `(${values.map(pyInt).join(", ")})`;
}

/** json.dumps(value) with Python's defaults (ensure_ascii, ", " and ": "). */
export function pyJsonDumps(value: PyValue): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return pyJsonString(value);
  if (typeof value === "number") return pyInt(value);
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(", ")}]`;
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return `{${entries.map(([k, v]) => `${pyJsonString(k)}: ${pyJsonDumps(v as PyValue)}`).join(", ")}}`;
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** Everything outside printable ASCII becomes \uXXXX (UTF-16 units, lower-case hex), as ensure_ascii does. */
function pyJsonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    const code = text.charCodeAt(i);
    if (SHORT_ESCAPES[char]) out += SHORT_ESCAPES[char];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}
