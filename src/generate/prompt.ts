import { DanluError } from "../errors.ts";

/**
 * The A1111 prompt syntax (AUTOMATIC1111/stable-diffusion-webui modules/prompt_parser.py and
 * extra_networks.py, read for facts): `(word)` x1.1, `((word))` x1.21, `[word]` /1.1, `(word:1.3)`,
 * `\(` `\)` `\[` `\]` `\\` literals (a backslash before any other character is dropped), unbalanced
 * brackets weighted to the end, `BREAK` (a new 75-token chunk), and extra networks `<lora:name:w>`,
 * `<lora:name:te:unet>`, `<lora:name:te=w:unet=w>`, `<lyco:...>` (removed from the text).
 */

export interface PromptSegment {
  text: string;
  weight: number;
}

/** A LoRA named in the prompt: `<lora:name:te:unet>` (unet defaults to te, te to 1). */
export interface PromptLora {
  name: string;
  teWeight: number;
  unetWeight: number;
}

export interface ParsedPrompt {
  /** the prompt as written (for the PNG `parameters` text) */
  text: string;
  /** the parts between BREAKs, each a list of weighted segments (empty text dropped) */
  sections: PromptSegment[][];
  loras: PromptLora[];
}

const BREAK_MARK = -1; // A1111 marks BREAK as ["BREAK", -1] in the attention list
const ROUND = 1.1;
const SQUARE = 1 / 1.1;
// the alternatives of A1111's re_attention, in the same order
const ATTENTION = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/g;
const BREAK_SPLIT = /\s*\bBREAK\b\s*/;
const EXTRA_NETWORK = /<(\w+):([^>]+)>/g;
// A1111's prompt editing [from:to:when] / [word:when] and alternation [a|b]: a ":" or "|" inside
// square brackets, outside any round group (checked after escapes and round groups are blanked)
const SCHEDULING = /\[[^[\]]*[:|][^[\]]*\]/;

function schedulingSyntax(text: string): string | undefined {
  let blanked = text.replace(/\\./g, "_");
  for (let before = ""; before !== blanked;) {
    before = blanked;
    blanked = blanked.replace(/\([^()]*\)/g, (group) => "_".repeat(group.length));
  }
  const found = SCHEDULING.exec(blanked);
  return found ? text.slice(found.index, found.index + found[0].length) : undefined;
}

/** A1111's parse_prompt_attention: [text, weight] runs; BREAK as ["BREAK", -1]; equal weights merged. */
export function parseAttention(text: string): [string, number][] {
  const res: [string, number][] = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiply = (start: number, by: number) => {
    for (let p = start; p < res.length; p++) res[p]![1] *= by;
  };
  for (const match of text.matchAll(ATTENTION)) {
    const token = match[0];
    const weight = match[1];
    if (token.startsWith("\\")) res.push([token.slice(1), 1]);
    else if (token === "(") round.push(res.length);
    else if (token === "[") square.push(res.length);
    else if (weight !== undefined && round.length > 0) multiply(round.pop()!, Number.parseFloat(weight));
    else if (token === ")" && round.length > 0) multiply(round.pop()!, ROUND);
    else if (token === "]" && square.length > 0) multiply(square.pop()!, SQUARE);
    else {
      token.split(BREAK_SPLIT).forEach((part, i) => {
        if (i > 0) res.push(["BREAK", BREAK_MARK]);
        res.push([part, 1]);
      });
    }
  }
  for (const pos of round) multiply(pos, ROUND);
  for (const pos of square) multiply(pos, SQUARE);
  if (res.length === 0) res.push(["", 1]);
  for (let i = 0; i + 1 < res.length;) {
    if (res[i]![1] === res[i + 1]![1]) {
      res[i]![0] += res[i + 1]![0];
      res.splice(i + 1, 1);
    } else i++;
  }
  return res;
}

function loraWeight(value: string, tag: string): number {
  const weight = Number(value);
  if (value.trim() === "" || !Number.isFinite(weight)) {
    throw new DanluError(`The prompt tag ${tag} has the weight "${value}", which is not a number.`, {
      code: "BAD_ARGUMENT",
      hint: "Write it as <lora:name:0.8> or <lora:name:te_weight:unet_weight>.",
    });
  }
  return weight;
}

function parseLoraTag(args: string, tag: string): PromptLora {
  const items = args.split(":");
  const name = items[0]!.trim();
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const item of items.slice(1)) {
    const eq = item.indexOf("=");
    if (eq > 0) named.set(item.slice(0, eq).trim(), item.slice(eq + 1));
    else positional.push(item);
  }
  const te = named.get("te") ?? positional[0];
  const unet = named.get("unet") ?? positional[1];
  const teWeight = te === undefined ? 1 : loraWeight(te, tag);
  return { name, teWeight, unetWeight: unet === undefined ? teWeight : loraWeight(unet, tag) };
}

/** Removes `<kind:args>` tags; returns the rest of the text and the LoRAs they name. */
export function extractLoras(text: string): { text: string; loras: PromptLora[] } {
  const loras: PromptLora[] = [];
  const rest = text.replace(EXTRA_NETWORK, (tag: string, kind: string, args: string) => {
    if (kind !== "lora" && kind !== "lyco") {
      throw new DanluError(`The prompt tag ${tag} names a "${kind}" network, which danlu does not load.`, {
        code: "BAD_ARGUMENT",
        hint: "Use <lora:name:weight> (LoRA and LyCORIS files) or remove the tag.",
      });
    }
    loras.push(parseLoraTag(args, tag));
    return "";
  });
  return { text: rest, loras };
}

// A1111 splits a prompt on the word AND (upper case only, modules/prompt_parser.py re_AND) into
// sub-prompts, each with an optional trailing ":weight", conditioned separately and their noise
// predictions summed with those weights (composable diffusion). That needs its own sampling loop;
// until danlu has one, AND is refused rather than sent to the text encoder as a word.
const COMPOSABLE_AND = /\bAND\b/;

function refuseComposable(text: string): void {
  if (!COMPOSABLE_AND.test(text)) return;
  throw new DanluError(
    'The prompt uses AND (A1111\'s composable diffusion, e.g. "a cat :1.2 AND a dog :0.8"), which danlu does not do: ' +
      "it would need one noise prediction per part, combined with the weights.",
    {
      code: "BAD_ARGUMENT",
      hint:
        "Write one prompt (join the parts with a comma, and use (words:1.2) for weights), or generate each part " +
        "separately. To mean the word itself, write it in lower case: and.",
    },
  );
}

/** Parses a whole A1111 prompt: LoRA tags out, then weights and BREAK sections; AND is refused. */
export function parsePrompt(text: string): ParsedPrompt {
  const { text: rest, loras } = extractLoras(text);
  refuseComposable(rest);
  const scheduled = schedulingSyntax(rest);
  if (scheduled) {
    throw new DanluError(
      `The prompt uses A1111's prompt editing or alternation (${scheduled}), which danlu does not do.`,
      {
        code: "BAD_ARGUMENT",
        hint: "Write the words without [a:b:when] / [a|b], or escape the brackets as \\[ \\] to mean them literally.",
      },
    );
  }
  const sections: PromptSegment[][] = [[]];
  for (const [part, weight] of parseAttention(rest)) {
    if (weight === BREAK_MARK) sections.push([]);
    else if (part !== "") sections.at(-1)!.push({ text: part, weight });
  }
  return { text, sections, loras };
}
