import type { ModuleKind } from "./lora-keys.ts";

/**
 * Which tools load a LoRA file, by the kinds of its modules (as `danlu lora info` and the end of
 * `danlu train` say it). A1111/Forge read LoRA, LoCon, LoHa, LoKr, IA3 and DoRA files with their built-in
 * Lora support (since A1111 1.5); ComfyUI's LoRA loader reads LoRA, LoCon, LoHa, LoKr and DoRA;
 * diffusers' `load_lora_weights` reads kohya LoRA/LoCon files but not the LyCORIS kinds (LoHa, LoKr, IA3)
 * nor kohya DoRA.
 */
export const TOOLS = ["A1111/Forge", "ComfyUI", "diffusers"] as const;
export type Tool = (typeof TOOLS)[number];

const READS: Record<Tool, ReadonlySet<ModuleKind>> = {
  "A1111/Forge": new Set(["lora", "locon", "loha", "lokr", "ia3", "dora", "full"]),
  ComfyUI: new Set(["lora", "locon", "loha", "lokr", "dora", "full"]),
  diffusers: new Set(["lora", "locon"]),
};

const KIND_NAMES: Record<ModuleKind, string> = {
  lora: "LoRA",
  locon: "LoCon",
  dora: "DoRA",
  loha: "LoHa",
  lokr: "LoKr",
  ia3: "IA3",
  full: "full-weight",
  unknown: "unknown",
};

export interface Loaders {
  loads: Tool[];
  /** The tools that do not, each with the kinds it does not read. */
  not: { tool: Tool; kinds: string[] }[];
}

export function loadersFor(kinds: Iterable<ModuleKind>): Loaders {
  const present = [...new Set(kinds)].filter((kind) => kind !== "unknown");
  const loads: Tool[] = [];
  const not: Loaders["not"] = [];
  for (const tool of TOOLS) {
    const missing = present.filter((kind) => !READS[tool].has(kind));
    if (missing.length === 0) loads.push(tool);
    else not.push({ tool, kinds: missing.map((kind) => KIND_NAMES[kind]) });
  }
  return { loads, not };
}

/** One line: "loads in: A1111/Forge, ComfyUI; not diffusers (it does not read LoHa modules)". */
export function loadersLine(kinds: Iterable<ModuleKind>): string {
  const { loads, not } = loadersFor(kinds);
  const yes = loads.length > 0 ? loads.join(", ") : "none of A1111/Forge, ComfyUI, diffusers";
  const no = not.map(({ tool, kinds: k }) => `not ${tool} (it does not read ${k.join("/")} modules)`);
  return `loads in: ${[yes, ...no].join("; ")}`;
}
