import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { DanluError } from "../errors.ts";
import { cleanClipText } from "./clip-text-clean.ts";

/**
 * The CLIP BPE tokenizer of SD1.x/SDXL text encoders (REFERENCE.md section 7), enough to count the
 * tokens of a caption exactly as the trainer will: same vocabulary file, same clean-up, same split,
 * same merges.
 */

export const START_OF_TEXT = 49406;
export const END_OF_TEXT = 49407;
/** CLIP's context is 77 positions: start + 75 caption tokens + end. */
export const CLIP_CAPTION_TOKENS = 75;

const BPE_FILE = "bpe_simple_vocab_16e6.txt.gz";
// Merge lines after the header that the vocabulary uses: 49152 - 256 - 2 (openai/CLIP).
const MERGE_COUNT = 49152 - 256 - 2;
// The pre-tokenizer of openai/CLIP: contractions, runs of letters, single digits, runs of other symbols.
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's byte -> printable character table: printable Latin-1 bytes map to themselves. */
function bytesToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  const table: string[] = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + shifted++);
  return table;
}

/** Vocabulary order: printable bytes first, then the others (the order `bytes_to_unicode` builds). */
function byteVocabularyOrder(table: string[]): string[] {
  const printable = table.filter((char, b) => char.codePointAt(0) === b);
  const others = table.filter((char, b) => char.codePointAt(0) !== b);
  return [...printable, ...others];
}

export class ClipTokenizer {
  private readonly byteChars = bytesToUnicode();
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>(); // "first second" -> merge rank
  private readonly cache = new Map<string, number[]>();

  /** `mergesText`: the decompressed vocabulary file (a header line, then one merge "a b" a line). */
  constructor(mergesText: string) {
    const merges = mergesText.split("\n").slice(1, MERGE_COUNT + 1);
    if (merges.length !== MERGE_COUNT) {
      throw new DanluError(`CLIP vocabulary has ${merges.length} merges, expected ${MERGE_COUNT}`, {
        hint: `point DANLU_CLIP_BPE at an unmodified ${BPE_FILE}`,
      });
    }
    const base = byteVocabularyOrder(this.byteChars);
    const vocab = [...base, ...base.map((char) => `${char}</w>`), ...merges.map((m) => m.replace(" ", ""))];
    vocab.forEach((token, id) => this.encoder.set(token, id));
    merges.forEach((merge, rank) => this.ranks.set(merge, rank));
  }

  static fromFile(path: string): ClipTokenizer {
    let text: string;
    try {
      text = gunzipSync(readFileSync(path)).toString("utf8");
    } catch (error) {
      throw new DanluError(`cannot read the CLIP vocabulary ${path}`, {
        hint: `${BPE_FILE} must be the gzip file shipped by open_clip_torch or clip-anytorch`,
        cause: error,
      });
    }
    return new ClipTokenizer(text);
  }

  /** Token ids of a text, without the start and end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const match of cleanClipText(text).matchAll(SPLIT)) ids.push(...this.encodeWord(match[0]));
    return ids;
  }

  /** The number of CLIP tokens a caption takes (start and end not counted; 75 fit in one chunk). */
  countTokens(text: string): number {
    return this.encode(text).length;
  }

  private encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = [...Buffer.from(word, "utf8")].map((b) => this.byteChars[b] as string);
    const ids = this.mergePieces(chars).map((piece) => {
      const id = this.encoder.get(piece);
      if (id === undefined) throw new Error(`CLIP vocabulary lacks the piece ${JSON.stringify(piece)}`);
      return id;
    });
    this.cache.set(word, ids);
    return ids;
  }

  /** Byte-pair merging: repeatedly join the adjacent pair with the lowest merge rank. */
  private mergePieces(chars: string[]): string[] {
    let pieces = [...chars.slice(0, -1), `${chars[chars.length - 1] ?? ""}</w>`];
    while (pieces.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < pieces.length; i++) {
        const pair = `${pieces[i]} ${pieces[i + 1]}`;
        const rank = this.ranks.get(pair);
        if (rank !== undefined && rank < bestRank) [best, bestRank] = [pair, rank];
      }
      if (best === undefined) break;
      const [first, second] = best.split(" ") as [string, string];
      const merged: string[] = [];
      for (let i = 0; i < pieces.length; i++) {
        if (pieces[i] === first && pieces[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else merged.push(pieces[i] as string);
      }
      pieces = merged;
    }
    return pieces;
  }
}

/** Where the vocabulary file is: $DANLU_CLIP_BPE, else open_clip inside the project's .venv. */
export function findClipBpeFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DANLU_CLIP_BPE) {
    if (!existsSync(env.DANLU_CLIP_BPE)) {
      throw new DanluError(`DANLU_CLIP_BPE points at ${env.DANLU_CLIP_BPE}, which does not exist`, {
        hint: `set it to the path of ${BPE_FILE}`,
      });
    }
    return env.DANLU_CLIP_BPE;
  }
  const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
  for (const root of new Set([projectRoot, process.cwd()])) {
    const lib = join(root, ".venv", "lib");
    if (!existsSync(lib)) continue;
    for (const python of readdirSync(lib).filter((name) => name.startsWith("python3"))) {
      const candidate = join(lib, python, "site-packages", "open_clip", BPE_FILE);
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new DanluError(`CLIP vocabulary ${BPE_FILE} not found`, {
    hint: "run `npm run setup` (it installs open_clip_torch into .venv) or set DANLU_CLIP_BPE to the file",
  });
}

const loaded = new Map<string, ClipTokenizer>();

/** The tokenizer for a vocabulary file (found with findClipBpeFile when not given), loaded once. */
export function loadClipTokenizer(path: string = findClipBpeFile()): ClipTokenizer {
  let tokenizer = loaded.get(path);
  if (!tokenizer) {
    tokenizer = ClipTokenizer.fromFile(path);
    loaded.set(path, tokenizer);
  }
  return tokenizer;
}
