/**
 * Output file names: one flat folder, names that every filesystem and every training script accepts,
 * and never two images with the same name (a second import adds files, it does not overwrite).
 */

// Windows refuses these as file names whatever the extension.
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;
/** Bytes kept of a stem: leaves room for `-99999.png` within every filesystem's 255-byte limit. */
const MAX_STEM_BYTES = 120;

/** Letters and digits of any script, `-`, `_` and `.` survive; everything else becomes `_`. */
export function safeStem(original: string): string {
  let stem = original
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}\-_.]+/gu, "_")
    .replace(/_+/g, "_")
    .replace(/^[._]+|[._]+$/g, "");
  while (Buffer.byteLength(stem, "utf8") > MAX_STEM_BYTES) stem = [...stem].slice(0, -1).join("");
  if (stem === "" || RESERVED.test(stem)) stem = `image${stem ? "_" + stem : ""}`;
  return stem;
}

/**
 * Hands out unique names in one folder. Names are compared case-insensitively because macOS and
 * Windows folders are; reserving is synchronous so concurrent workers never get the same name.
 */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(existing: Iterable<string>) {
    for (const name of existing) this.taken.add(stemKey(name));
  }

  reserve(original: string, extension: string): string {
    const stem = safeStem(original);
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? stem : `${stem}-${n}`;
      const key = candidate.toLowerCase();
      if (!this.taken.has(key)) {
        this.taken.add(key);
        return candidate + extension;
      }
    }
  }
}

/** `Photo.PNG` and `photo.txt` share the stem `photo`: a new image must not take either. */
function stemKey(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  return (dot > 0 ? fileName.slice(0, dot) : fileName).toLowerCase();
}
