import { crc32 } from "node:zlib";

/**
 * PNG text chunks, read and replaced without touching the pixels: the A1111 `parameters` text lives in
 * one (tEXt when Latin-1, iTXt when not, as Pillow writes it: engine/danlu_engine/generate/png.py).
 */

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Chunk {
  type: string;
  data: Buffer;
}

function chunksOf(png: Buffer): Chunk[] {
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG file");
  const chunks: Chunk[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    chunks.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
    if (type === "IEND") break;
  }
  return chunks;
}

function encodeChunk({ type, data }: Chunk): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(Buffer.from(type, "latin1"))), 0);
  return Buffer.concat([head, data, crc]);
}

/** The keyword and text of a tEXt or uncompressed iTXt chunk; undefined for anything else. */
function textOf(chunk: Chunk): [string, string] | undefined {
  const zero = chunk.data.indexOf(0);
  if (zero < 0) return undefined;
  const keyword = chunk.data.toString("latin1", 0, zero);
  if (chunk.type === "tEXt") return [keyword, chunk.data.toString("latin1", zero + 1)];
  if (chunk.type !== "iTXt" || chunk.data[zero + 1] !== 0) return undefined; // compressed iTXt: not ours
  const language = chunk.data.indexOf(0, zero + 3);
  const translated = chunk.data.indexOf(0, language + 1);
  return [keyword, chunk.data.toString("utf8", translated + 1)];
}

/** Every tEXt / uncompressed iTXt chunk of a PNG: keyword -> text. */
export function readPngText(png: Buffer): Map<string, string> {
  const texts = new Map<string, string>();
  for (const chunk of chunksOf(png)) {
    const text = textOf(chunk);
    if (text) texts.set(text[0], text[1]);
  }
  return texts;
}

/** The PNG with `keyword`'s text replaced (or added after IHDR); pixels and other chunks unchanged. */
export function withPngText(png: Buffer, keyword: string, text: string): Buffer {
  const latin1 = [...text].every((c) => c.charCodeAt(0) <= 0xff);
  const data = latin1
    ? Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0]), Buffer.from(text, "latin1")])
    : Buffer.concat([
        Buffer.from(keyword, "latin1"),
        Buffer.from([0, 0, 0, 0, 0]),
        Buffer.from(text, "utf8"),
      ]);
  const fresh: Chunk = { type: latin1 ? "tEXt" : "iTXt", data };
  const out: Chunk[] = [];
  for (const chunk of chunksOf(png)) {
    if (textOf(chunk)?.[0] === keyword) continue;
    out.push(chunk);
    if (chunk.type === "IHDR") out.push(fresh);
  }
  return Buffer.concat([SIGNATURE, ...out.map(encodeChunk)]);
}
