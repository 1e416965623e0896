/**
 * The text clean-up CLIP's tokenizer applies before splitting (openai/CLIP `basic_clean` +
 * `whitespace_clean` + lower case): ftfy's default fixes that matter for captions, HTML entities,
 * whitespace collapsed the way Python's `str.split()` does it.
 *
 * Not reproduced: ftfy's mojibake repair (text decoded in the wrong encoding) and the rarer HTML5
 * named entities; a caption written by a person or a tagger does not contain them.
 */

// Python's str.isspace() set, which `" ".join(text.split())` collapses (JS \s differs: it has U+FEFF
// and lacks U+001C-U+001F).
/* eslint-disable no-control-regex -- these patterns exist to match control characters */
const PYTHON_WHITESPACE =
  /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/gu;

// ftfy remove_control_chars: C0 controls except tab/newline/form feed/CR, DEL, deprecated format
// characters, the byte-order mark, interlinear annotation characters.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/gu;

// ftfy remove_terminal_escapes
const ANSI_ESCAPE = /\x1b\[[\d;]*[a-zA-Z]/gu;
/* eslint-enable no-control-regex */

// ftfy fix_latin_ligatures
const LIGATURES: Record<string, string> = {
  Ĳ: "IJ",
  ĳ: "ij",
  ŉ: "ʼn",
  Ǳ: "DZ",
  ǲ: "Dz",
  ǳ: "dz",
  Ǆ: "DŽ",
  ǅ: "Dž",
  ǆ: "dž",
  Ǉ: "LJ",
  ǈ: "Lj",
  ǉ: "lj",
  Ǌ: "NJ",
  ǋ: "Nj",
  ǌ: "nj",
  ﬀ: "ff",
  ﬁ: "fi",
  ﬂ: "fl",
  ﬃ: "ffi",
  ﬄ: "ffl",
  ﬅ: "ſt",
  ﬆ: "st",
};
const LIGATURE_CHARS = new RegExp(`[${Object.keys(LIGATURES).join("")}]`, "gu");

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "©",
  reg: "®",
  trade: "™",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  times: "×",
  deg: "°",
  middot: "·",
};

function unescapeHtml(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[a-zA-Z]+);/gu, (whole, body: string) => {
    if (body.startsWith("#")) {
      const code =
        body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code)
        : "\ufffd";
    }
    return NAMED_ENTITIES[body] ?? whole;
  });
}

/** ftfy fix_character_width: fullwidth/halfwidth forms (U+FF01-U+FFEF) to standard width. */
function fixCharacterWidth(text: string): string {
  return text.replace(/[\uff01-\uffef\u3000]/gu, (char) =>
    char === "\u3000" ? " " : char.normalize("NFKC"),
  );
}

function ftfyLite(text: string): string {
  // ftfy unescapes HTML only when the text does not look like HTML itself ("auto").
  let fixed = text.includes("<") ? text : unescapeHtml(text);
  fixed = fixed.replace(LIGATURE_CHARS, (char) => LIGATURES[char] ?? char);
  fixed = fixCharacterWidth(fixed);
  fixed = fixed.replace(/[\u02bc\u2018-\u201b]/gu, "'").replace(/[\u201c-\u201f]/gu, '"');
  fixed = fixed.replace(/\r\n|[\r\u2028\u2029\x85]/gu, "\n");
  fixed = fixed.replace(ANSI_ESCAPE, "").replace(CONTROL_CHARS, "");
  return fixed.normalize("NFC");
}

/** CLIP's default clean ("lower"): fix, unescape HTML twice, collapse whitespace, lower-case. */
export function cleanClipText(text: string): string {
  const basic = unescapeHtml(unescapeHtml(ftfyLite(text))).trim();
  return basic.split(PYTHON_WHITESPACE).filter(Boolean).join(" ").toLowerCase();
}
