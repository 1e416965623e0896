import type { MaskedContent } from "../engine/spec-generate.ts";
import { controlNetsOf, type ControlNetUnitText } from "./parameters-controlnet.ts";

/**
 * A1111's PNG `parameters` text read back into settings (what the engine's generate/png.py writes, and what
 * A1111, Forge and Civitai write): the prompt lines, "Negative prompt: ..." lines, then one line of
 * "Key: value" pairs separated by ", " (a value with commas is in double quotes, JSON-escaped).
 */
export interface A1111Parameters {
  prompt: string;
  negative: string;
  /** Every "Key: value" of the last line, as written (quotes removed). */
  fields: Record<string, string>;
  steps?: number;
  sampler?: string;
  cfg?: number;
  seed?: number;
  /** "Size": the sampled size (the first pass's with hires fix; the mask box's with only-masked inpainting). */
  width?: number;
  height?: number;
  model?: string;
  modelHash?: string;
  clipSkip?: number;
  /** img2img and inpainting: "Denoising strength" (with hires fix it is the second pass's: hires.denoising). */
  strength?: number;
  loraHashes?: Record<string, string>;
  inpaint?: {
    maskBlur: number;
    maskedContent: MaskedContent;
    area: "whole" | "masked";
    padding: number;
  };
  hires?: { scale: number; steps: number; denoising: number; upscaler: string };
  /** sd-webui-controlnet's "ControlNet N" units, in order (parameters-controlnet.ts). */
  controlnets?: ControlNetUnitText[];
  /** Face detailing, ADetailer's keys ("ADetailer model: blazeface, ..."): src/generate/detailer.ts. */
  detail?: {
    model: string;
    prompt: string; // "": the image's prompt
    negative: string; // "": the image's negative
    confidence: number;
    dilateErode: number;
    maskBlur: number;
    denoising: number;
    onlyMasked: boolean; // ADetailer leaves the key out when false
    padding: number;
    width?: number; // the working size, written when it is not the image's ("use inpaint width height")
    height?: number;
    steps?: number; // written when not the image's ("use separate steps")
  };
}

// one "Key: value" pair: a key of words, then a quoted value (with \" escapes) or anything up to the next comma
const PAIR = /\s*([\w][\w \-/().+]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;
const MASKED_CONTENT_NAMES: Record<string, MaskedContent> = {
  original: "original",
  fill: "fill",
  "latent noise": "latent-noise",
  "latent nothing": "latent-nothing",
};

function pairsOf(line: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of line.matchAll(PAIR)) {
    const [, key, raw] = match;
    if (key === undefined || raw === undefined) continue;
    fields[key.trim()] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.trim();
  }
  return fields;
}

/** A1111's quoting of a value: in JSON quotes when it has a comma, a colon or a newline. */
export function quoteValue(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

/**
 * The text with its "Key: value" line rewritten by `edit` (raw values: quoted ones keep their quotes), the
 * prompt lines unchanged; a text without that line gets one.
 */
export function rewriteFields(
  text: string,
  edit: (pairs: [key: string, raw: string][]) => [key: string, raw: string][],
): string {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const last = lines.at(-1) ?? "";
  const hasFields = isFieldsLine(last);
  const pairs: [string, string][] = hasFields
    ? [...last.matchAll(PAIR)].flatMap(([, key, raw]) =>
        key === undefined || raw === undefined ? [] : [[key.trim(), raw.trim()] as [string, string]],
      )
    : [];
  const line = edit(pairs)
    .map(([key, raw]) => `${key}: ${raw}`)
    .join(", ");
  return [...(hasFields ? lines.slice(0, -1) : lines), line].join("\n");
}

function isFieldsLine(line: string): boolean {
  return Object.keys(pairsOf(line)).length >= 3 && /(^|, )Steps: \d/.test(line);
}

function num(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** The settings in an A1111 `parameters` text; keys it does not know stay in `fields`. */
export function parseParameters(text: string): A1111Parameters {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const last = lines.at(-1) ?? "";
  const fields = isFieldsLine(last) ? pairsOf(lines.pop() ?? "") : {};
  const negativeAt = lines.findIndex((line) => line.startsWith("Negative prompt:"));
  const promptLines = negativeAt === -1 ? lines : lines.slice(0, negativeAt);
  const negativeLines = negativeAt === -1 ? [] : lines.slice(negativeAt);
  const negative = negativeLines.join("\n").replace(/^Negative prompt:\s?/, "");
  const out: A1111Parameters = { prompt: promptLines.join("\n"), negative, fields };
  const size = /^(\d+)x(\d+)$/.exec(fields.Size ?? "");
  Object.assign(out, {
    steps: num(fields.Steps),
    sampler: fields.Sampler,
    cfg: num(fields["CFG scale"]),
    seed: num(fields.Seed),
    width: size ? Number(size[1]) : undefined,
    height: size ? Number(size[2]) : undefined,
    model: fields.Model,
    modelHash: fields["Model hash"],
    clipSkip: num(fields["Clip skip"]),
  });
  if (fields["Lora hashes"]) {
    out.loraHashes = Object.fromEntries(
      fields["Lora hashes"]
        .split(",")
        .map((pair) => pair.split(":").map((part) => part.trim()) as [string, string]),
    );
  }
  const denoising = num(fields["Denoising strength"]);
  if (fields["Hires upscale"] !== undefined) {
    out.hires = {
      scale: num(fields["Hires upscale"]) ?? 1,
      steps: num(fields["Hires steps"]) ?? 0,
      denoising: denoising ?? 0.7,
      upscaler: fields["Hires upscaler"] ?? "Latent",
    };
  } else if (denoising !== undefined) {
    out.strength = denoising;
  }
  if (fields["Mask blur"] !== undefined) {
    const onlyMasked = fields["Inpaint area"] === "Only masked";
    out.inpaint = {
      maskBlur: num(fields["Mask blur"]) ?? 4,
      maskedContent: MASKED_CONTENT_NAMES[fields["Masked content"] ?? "original"] ?? "original",
      area: onlyMasked ? "masked" : "whole",
      padding: num(fields["Masked area padding"]) ?? 32,
    };
  }
  if (fields["ADetailer model"] !== undefined) out.detail = detailOf(fields);
  const controlnets = controlNetsOf(fields);
  if (controlnets.length > 0) out.controlnets = controlnets;
  for (const key of Object.keys(out) as (keyof A1111Parameters)[])
    if (out[key] === undefined) delete out[key];
  return out;
}

/** ADetailer's keys, with ADetailer's defaults for the ones it leaves out. */
function detailOf(fields: Record<string, string>): NonNullable<A1111Parameters["detail"]> {
  const onlyMasked = fields["ADetailer inpaint only masked"] === "True";
  const detail: NonNullable<A1111Parameters["detail"]> = {
    model: fields["ADetailer model"] ?? "",
    prompt: fields["ADetailer prompt"] ?? "",
    negative: fields["ADetailer negative prompt"] ?? "",
    confidence: num(fields["ADetailer confidence"]) ?? 0.3,
    dilateErode: num(fields["ADetailer dilate erode"]) ?? 4,
    maskBlur: num(fields["ADetailer mask blur"]) ?? 4,
    denoising: num(fields["ADetailer denoising strength"]) ?? 0.4,
    onlyMasked,
    padding: onlyMasked ? (num(fields["ADetailer inpaint padding"]) ?? 32) : 32,
  };
  if (fields["ADetailer use inpaint width height"] === "True") {
    detail.width = num(fields["ADetailer inpaint width"]) ?? 512;
    detail.height = num(fields["ADetailer inpaint height"]) ?? 512;
  }
  if (fields["ADetailer use separate steps"] === "True") detail.steps = num(fields["ADetailer steps"]) ?? 28;
  return detail;
}
