/**
 * optimizer_args as sd-scripts writes them: a list of "key=value" strings, e.g.
 * ["weight_decay=0.01", "betas=0.9,0.999"]. danlu's AdamW/AdamW8bit take these three; anything else is
 * an error rather than a setting silently dropped.
 */
export interface OptimizerSettings {
  weight_decay: number;
  betas: [number, number];
  eps: number;
}

/** torch.optim.AdamW's defaults (also bitsandbytes' AdamW8bit). */
export const OPTIMIZER_DEFAULTS: OptimizerSettings = { weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-8 };

export const OPTIMIZER_ARG_KEYS = ["weight_decay", "betas", "eps"] as const;

function parseNumber(text: string, what: string): number {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(value))
    throw new Error(`${what} must be a number, got "${text}"`);
  return value;
}

function parseBetas(text: string): [number, number] {
  // sd-scripts evaluates the value as Python, so "(0.9, 0.999)" and "0.9,0.999" both occur.
  const parts = text.replace(/[()[\]\s]/g, "").split(",");
  if (parts.length !== 2) throw new Error(`betas must be two numbers like 0.9,0.999, got "${text}"`);
  const betas: [number, number] = [
    parseNumber(parts[0] ?? "", "betas"),
    parseNumber(parts[1] ?? "", "betas"),
  ];
  if (betas.some((b) => b < 0 || b >= 1)) throw new Error(`betas must each be in [0, 1), got "${text}"`);
  return betas;
}

/** Parses the list; throws Error with a one-line reason for the first bad entry. */
export function parseOptimizerArgs(args: readonly string[]): OptimizerSettings {
  const settings: OptimizerSettings = { ...OPTIMIZER_DEFAULTS, betas: [...OPTIMIZER_DEFAULTS.betas] };
  for (const entry of args) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new Error(`"${entry}" is not key=value`);
    const key = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1);
    if (key === "weight_decay") {
      settings.weight_decay = parseNumber(value, key);
      if (settings.weight_decay < 0) throw new Error(`weight_decay must be >= 0, got "${value}"`);
    } else if (key === "eps") {
      settings.eps = parseNumber(value, key);
      if (settings.eps <= 0) throw new Error(`eps must be > 0, got "${value}"`);
    } else if (key === "betas") {
      settings.betas = parseBetas(value);
    } else {
      throw new Error(`"${key}" is not an AdamW argument danlu supports (${OPTIMIZER_ARG_KEYS.join(", ")})`);
    }
  }
  return settings;
}
