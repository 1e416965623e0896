import { canonicalPixels, type RgbBackground } from "../images.ts";
import { firstLine } from "./sources.ts";

export interface ConvertedImage {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes any supported input and encodes the canonical PNG. Output is always PNG: every input is
 * decoded anyway (to prove it is whole and to apply orientation, colour and alpha), and writing
 * JPEG again would add a second generation of compression loss; PNG keeps the decoded pixels exactly.
 */
export async function convertToPng(
  bytes: Buffer,
  background: RgbBackground,
  maxPixels: number,
): Promise<ConvertedImage> {
  const { data, info } = await canonicalPixels(bytes, background, maxPixels)
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer({ resolveWithObject: true });
  return { png: data, width: info.width, height: info.height };
}

/** Turns a decoder error into a reason a person understands. */
export function decodeFailureReason(error: unknown, maxPixels: number, fileName = ""): string {
  const message = firstLine(error);
  if (/pixel limit/i.test(message)) {
    return `decompression bomb guard: more than ${maxPixels} pixels (raise --max-pixels if it is real)`;
  }
  if (/\.(heic|heif)$/i.test(fileName)) {
    // sharp's prebuilt libheif decodes AVIF but has no HEVC decoder (patent licensing), which iPhone HEICs need.
    return `cannot decode this HEIC/HEIF (${message}): this build reads AVIF-coded HEIF only; convert it to JPEG first`;
  }
  if (/unsupported image format/i.test(message)) return "not an image (content is no known image format)";
  if (/premature|truncat|corrupt|bogus|invalid|bad |crc|unexpected end|incomplete/i.test(message)) {
    return `truncated or corrupt image: ${message}`;
  }
  return `cannot decode: ${message}`;
}
