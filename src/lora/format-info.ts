import type { LoraSummary } from "./describe.ts";
import type { BlockNorm } from "./block-norms.ts";
import type { LoraInfo, LoraModuleInfo, LoraPartSummary } from "./lora-info.ts";
import type { ModuleKind } from "./lora-keys.ts";
import { loadersLine } from "./loaders.ts";

const PART_NAMES: Record<string, string> = {
  unet: "UNet",
  te: "text encoder",
  te1: "text encoder 1 (CLIP-L)",
  te2: "text encoder 2 (OpenCLIP bigG)",
  other: "other",
};

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function list(values: number[]): string {
  return values.length === 0 ? "-" : values.join("/");
}

function partLine(p: LoraPartSummary): string {
  const kinds = Object.entries(p.kinds)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(", ");
  return `  ${PART_NAMES[p.part] ?? p.part}: ${p.modules} modules (${kinds}), rank ${list(p.ranks)}, alpha ${list(p.alphas)}`;
}

function hashLine(hash: LoraInfo["hash"]): string {
  switch (hash.status) {
    case "ok":
      return `hash: ${hash.stored} ok (A1111 shows ${hash.stored?.slice(0, 12)})`;
    case "mismatch":
      return `hash: MISMATCH: metadata says ${hash.stored}, data hashes to ${hash.computed} (file changed after saving?)`;
    case "absent":
      return `hash: no sshs_model_hash in the metadata; data sha256 ${hash.computed} (A1111 shows ${hash.computed?.slice(0, 12)})`;
    default:
      return `hash: ${hash.stored ?? "none"} (not checked)`;
  }
}

function optional(label: string, value: string | number | null): string[] {
  return value === null || value === "" ? [] : [`${label}: ${value}`];
}

/** The readable summary `danlu lora info` prints (modules listed with `withModules`). */
export function formatLoraInfo(info: LoraInfo, summary: LoraSummary, withModules: boolean): string {
  const dtypes = Object.entries(info.dtypes)
    .map(([dtype, count]) => `${count} ${dtype}`)
    .join(", ");
  const trained = [
    summary.epoch !== null
      ? `epoch ${summary.epoch}${summary.epochs !== null ? ` of ${summary.epochs}` : ""}`
      : null,
    summary.steps !== null ? `${summary.steps} steps` : null,
  ].filter(Boolean);
  const lines = [
    `${info.path}`,
    `  ${megabytes(info.fileSize)}, ${info.tensorCount} tensors (${dtypes})`,
    ...(info.layout !== "kohya" ? [`layout: ${info.layout} (modules below under their kohya names)`] : []),
    `architecture: ${summary.architecture}`,
    ...optional("network", summary.networkModule),
    loadersLine(info.parts.flatMap((part) => Object.keys(part.kinds) as ModuleKind[])),
    ...(summary.networkArgs && Object.keys(summary.networkArgs).length > 0
      ? [`network args: ${JSON.stringify(summary.networkArgs)}`]
      : []),
    `dim/alpha: ${summary.dim ?? "?"}/${summary.alpha ?? "?"} (metadata)`,
    ...optional("trained", trained.join(", ")),
    ...optional("resolution", summary.resolution),
    ...optional("base model", summary.baseModel),
    ...(summary.triggerWords.length > 0
      ? [
          `trigger words: ${summary.triggerWords.map((t) => `${t.word} (${t.source}${t.count !== null ? `, ${t.count}` : ""})`).join(", ")}`,
        ]
      : []),
    ...Object.entries(summary.training).map(([label, value]) => `${label}: ${value}`),
    ...summary.datasetDirs.map(
      (d) => `dataset dir: ${d.dir} (${d.images ?? "?"} images x ${d.repeats ?? "?"} repeats)`,
    ),
    ...(summary.topTags.length > 0
      ? [`top tags: ${summary.topTags.map((t) => `${t.tag} (${t.count})`).join(", ")}`]
      : []),
    hashLine(info.hash),
    "modules:",
    ...info.parts.map(partLine),
  ];
  if (withModules) lines.push("", ...moduleLines(info.modules));
  return lines.join("\n");
}

function moduleLines(modules: LoraModuleInfo[]): string[] {
  const width = Math.max(...modules.map((m) => m.name.length));
  return modules.map((m) => {
    const alpha = m.alpha === null ? "alpha -" : `alpha ${m.alpha}`;
    const scale = m.rank && m.alpha !== null ? ` (scale ${(m.alpha / m.rank).toPrecision(3)})` : "";
    return `${m.name.padEnd(width)}  ${m.kind.padEnd(5)}  rank ${m.rank ?? "-"}  ${alpha}${scale}${m.shape ? `  ${m.shape}` : ""}`;
  });
}

/** One line per block (A1111 LoRA Block Weight names) with its norm and a bar relative to the strongest. */
export function formatBlockNorms(norms: BlockNorm[]): string {
  if (norms.length === 0) return "block weight norms: none (no LoRA/LoCon modules in known blocks)";
  const top = Math.max(...norms.map((n) => n.norm)) || 1;
  const lines = norms.map((n) => {
    const bar = "#".repeat(Math.round((n.norm / top) * 30));
    return `  ${n.block.padEnd(5)} ${n.norm.toPrecision(4).padStart(10)}  ${String(n.modules).padStart(3)} modules  ${bar}`;
  });
  return ["block weight norms (||up @ down * alpha/rank||, BASE = text encoders):", ...lines].join("\n");
}
