/**
 * sd-webui-controlnet's units in an A1111 `parameters` text, read back: each "ControlNet N" field holds
 * "Module: ..., Model: NAME [HASH], Weight: 1.0, ..., Guidance Start: 0.0, Guidance End: 1.0, ..." (what
 * engine/danlu_engine/generate/controlnet.py writes). Ordered by N; a unit without a Model is skipped.
 */
export interface ControlNetUnitText {
  module: string;
  model: string;
  hash?: string; // the 8 hex digits in brackets
  weight: number;
  start: number;
  end: number;
  processorRes?: number;
  thresholdA?: number;
  thresholdB?: number;
}

function unitOf(value: string): ControlNetUnitText | undefined {
  const pairs: Record<string, string> = {};
  for (const part of value.split(", ")) {
    const at = part.indexOf(": ");
    if (at > 0) pairs[part.slice(0, at)] = part.slice(at + 2);
  }
  const model = /^(.*?)(?: \[([0-9a-fA-F]+)\])?$/.exec(pairs.Model ?? "");
  if (!model?.[1]) return undefined;
  const n = (key: string, fallback?: number) => {
    const v = Number(pairs[key]);
    return pairs[key] !== undefined && Number.isFinite(v) ? v : fallback;
  };
  const unit: ControlNetUnitText = {
    module: pairs.Module ?? "none",
    model: model[1],
    weight: n("Weight", 1)!,
    start: n("Guidance Start", 0)!,
    end: n("Guidance End", 1)!,
  };
  if (model[2]) unit.hash = model[2];
  for (const [key, field] of [
    ["Processor Res", "processorRes"],
    ["Threshold A", "thresholdA"],
    ["Threshold B", "thresholdB"],
  ] as const) {
    const v = n(key);
    if (v !== undefined) unit[field] = v;
  }
  return unit;
}

/** The units in the fields of a parameters text (parseParameters' `fields`). */
export function controlNetsOf(fields: Record<string, string>): ControlNetUnitText[] {
  return Object.keys(fields)
    .map((key) => /^ControlNet (\d+)$/.exec(key))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => unitOf(fields[m[0]] ?? ""))
    .filter((u): u is ControlNetUnitText => u !== undefined);
}
