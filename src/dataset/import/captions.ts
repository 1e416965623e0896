/**
 * Caption files come from many editors: UTF-8 with or without a BOM, UTF-16 (Windows Notepad's
 * "Unicode") with a BOM. They are all written back as UTF-8 without a BOM, which is what sd-scripts
 * reads.
 */
export interface DecodedCaption {
  text: string;
  encoding: "utf-8" | "utf-8-bom" | "utf-16le" | "utf-16be";
}

export function decodeCaption(bytes: Uint8Array): DecodedCaption {
  const [b0, b1, b2] = bytes;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) {
    return { text: decode("utf-8", bytes.subarray(3)), encoding: "utf-8-bom" };
  }
  if (b0 === 0xff && b1 === 0xfe)
    return { text: decode("utf-16le", bytes.subarray(2)), encoding: "utf-16le" };
  if (b0 === 0xfe && b1 === 0xff)
    return { text: decode("utf-16be", bytes.subarray(2)), encoding: "utf-16be" };
  return { text: decode("utf-8", bytes), encoding: "utf-8" };
}

/** Throws on bytes that are not valid in the encoding, rather than writing U+FFFD into a caption. */
function decode(encoding: string, bytes: Uint8Array): string {
  const text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
  // CRLF from Windows editors and trailing blank lines add nothing to a caption.
  return text.replace(/\r\n?/g, "\n").trim();
}

export function encodeCaption(text: string): Buffer {
  return Buffer.from(text + "\n", "utf8");
}
