import { formatValue } from "../options.ts";
import { GUIDES, type GuideId } from "./types.ts";
import { PRESETS, resolvePreset } from "./index.ts";

const REASON_COLUMN = 50;

/** `danlu presets show NAME`: every setting with its value and reason, then the dataset advice. */
export function formatPreset(name: string): string {
  const preset = resolvePreset(name);
  const width = Math.max(...preset.settings.map((setting) => setting.key.length));
  const lines = [
    `preset ${preset.name}: ${preset.summary}`,
    "",
    "settings (each overridable by --config or a flag):",
  ];
  for (const setting of preset.settings) {
    const assignment = `  ${setting.key.padEnd(width)} = ${formatValue(setting.value)}`;
    // Long values (optimizer_args) put their reason on the next line, so the reasons stay in one column.
    if (assignment.length <= REASON_COLUMN - 2)
      lines.push(`${assignment.padEnd(REASON_COLUMN)}${setting.reason}`);
    else lines.push(assignment, `${" ".repeat(REASON_COLUMN)}${setting.reason}`);
  }
  if (preset.missing.length > 0) {
    lines.push("", "not set (danlu does not support it yet):");
    for (const line of preset.missing) lines.push(`  ${line}`);
  }
  lines.push("", "dataset (folder names carry the repeats, so these are advice):");
  const topicWidth = Math.max(...preset.advice.map((advice) => advice.topic.length));
  for (const advice of preset.advice)
    lines.push(`  ${`${advice.topic}:`.padEnd(topicWidth + 1)} ${advice.text}`);
  const cited = citedGuides(lines.join("\n"));
  lines.push("", "guides:", ...cited.map(([id, title]) => `  ${id}: ${title}`));
  lines.push(
    "",
    `use: danlu train --preset ${preset.name} --pretrained-model-name-or-path M --train-data-dir D --output-dir O`,
  );
  return lines.join("\n");
}

/** The guides a text cites: "guide 001", "guides 000 and 003", "guides 000-002" (a range counts whole). */
export function citedGuides(text: string): [GuideId, string][] {
  const ids = new Set<string>();
  for (const [mention] of text.matchAll(/\bguides? \d{3}(?:(?:, | and |-)\d{3})*/g)) {
    const numbers = [...mention.matchAll(/\d{3}/g)].map(([n]) => Number(n));
    const ranged = mention.includes("-") ? numbers.slice(0, 1) : numbers;
    if (mention.includes("-")) for (let n = numbers[0] ?? 0; n <= (numbers.at(-1) ?? 0); n++) ranged.push(n);
    for (const n of ranged) ids.add(String(n).padStart(3, "0"));
  }
  return (Object.entries(GUIDES) as [GuideId, string][]).filter(([id]) => ids.has(id));
}

/** `danlu presets list`: one line per preset. */
export function formatPresetList(): string {
  const width = Math.max(...Object.keys(PRESETS).map((name) => name.length));
  const lines = Object.values(PRESETS).map((preset) => `  ${preset.name.padEnd(width)}  ${preset.summary}`);
  return ["presets (danlu presets show NAME for every setting and its reason):", ...lines].join("\n");
}
