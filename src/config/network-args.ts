/**
 * `network_args`: the "key=value" strings sd-scripts passes to the network module. Which keys each module
 * reads (kohya-ss/sd-scripts networks/lora.py; KohakuBlueleaf/LyCORIS lycoris/kohya.py) and their types.
 */

export const NETWORK_MODULES = ["networks.lora", "lycoris.kohya"] as const;
export type NetworkModule = (typeof NETWORK_MODULES)[number];
/** LyCORIS algos danlu trains; "dora" is danlu's short form of algo=locon with dora_wd=True. */
export const NETWORK_ALGOS = ["lora", "locon", "loha", "lokr", "ia3", "dora"] as const;
export type NetworkAlgo = (typeof NETWORK_ALGOS)[number];
export const BLOCK_COUNT = 25; // sd-scripts: 12 down + mid + 12 up, index 0 unused

type ArgKind = "algo" | "int" | "factor" | "num" | "rate" | "bool" | "ints" | "nums";

const ARG_KINDS: Record<string, ArgKind> = {
  algo: "algo",
  conv_dim: "int",
  conv_alpha: "num",
  dropout: "rate",
  rank_dropout: "rate",
  module_dropout: "rate",
  use_tucker: "bool",
  factor: "factor",
  decompose_both: "bool",
  full_matrix: "bool",
  dora_wd: "bool",
  block_dims: "ints",
  block_alphas: "nums",
  conv_block_dims: "ints",
  conv_block_alphas: "nums",
};

/** The args each module reads; any other is an error naming it. */
export const MODULE_ARGS: Record<NetworkModule, readonly string[]> = {
  "networks.lora": [
    "conv_dim",
    "conv_alpha",
    "rank_dropout",
    "module_dropout",
    "block_dims",
    "block_alphas",
    "conv_block_dims",
    "conv_block_alphas",
  ],
  "lycoris.kohya": [
    "algo",
    "conv_dim",
    "conv_alpha",
    "dropout",
    "rank_dropout",
    "module_dropout",
    "use_tucker",
    "factor",
    "decompose_both",
    "full_matrix",
    "dora_wd",
  ],
};

export type NetworkArgValue = string | number | boolean | number[];
export interface NetworkArgs {
  /** As given (key -> value text), for ss_network_args. */
  raw: Record<string, string>;
  values: Record<string, NetworkArgValue>;
}

const TRUE = ["true", "1", "yes"];
const FALSE = ["false", "0", "no"];

function parseValue(key: string, kind: ArgKind, text: string): NetworkArgValue {
  const bad = (expected: string): Error => new Error(`network_args ${key}=${text}: ${expected}`);
  const number = (part: string): number => (part.trim() === "" ? NaN : Number(part));
  switch (kind) {
    case "algo":
      if (!(NETWORK_ALGOS as readonly string[]).includes(text.toLowerCase())) {
        throw bad(`algo must be one of ${NETWORK_ALGOS.join(", ")}`);
      }
      return text.toLowerCase();
    case "bool":
      if (TRUE.includes(text.toLowerCase())) return true;
      if (FALSE.includes(text.toLowerCase())) return false;
      throw bad("must be True or False");
    case "int":
    case "factor": {
      const value = number(text);
      const ok = Number.isInteger(value) && (kind === "int" ? value >= 0 : value === -1 || value >= 1);
      if (!ok) throw bad(kind === "int" ? "must be an int >= 0" : "must be -1 (balanced) or an int >= 1");
      return value;
    }
    case "num":
    case "rate": {
      const value = number(text);
      if (!Number.isFinite(value) || value < 0 || (kind === "rate" && value >= 1)) {
        throw bad(kind === "rate" ? "must be a number in [0, 1)" : "must be a number >= 0");
      }
      return value;
    }
    case "ints":
    case "nums": {
      const values = text.split(",").map(number);
      if (values.length !== BLOCK_COUNT || values.some((v) => !Number.isFinite(v) || v < 0)) {
        throw bad(`must be ${BLOCK_COUNT} comma-separated numbers >= 0 (one per SD1.5 block)`);
      }
      if (kind === "ints" && values.some((v) => !Number.isInteger(v)))
        throw bad("dims must be whole numbers");
      return values;
    }
  }
}

/** Parses and checks "key=value" strings; throws an Error whose message names the offending arg. */
export function parseNetworkArgs(args: readonly string[]): NetworkArgs {
  const raw: Record<string, string> = {};
  const values: Record<string, NetworkArgValue> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new Error(`network_args "${arg}": expected key=value`);
    const key = arg.slice(0, eq).trim();
    const text = arg.slice(eq + 1).trim();
    const kind = ARG_KINDS[key];
    if (!kind) {
      throw new Error(
        `network_args "${arg}": unknown arg ${key} (known: ${Object.keys(ARG_KINDS).join(", ")})`,
      );
    }
    if (Object.hasOwn(raw, key)) throw new Error(`network_args: ${key} is given twice`);
    raw[key] = text;
    values[key] = parseValue(key, kind, text);
  }
  return { raw, values };
}
