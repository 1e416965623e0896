import { DEFAULT_MAX_PIXELS } from "../dataset/images.ts";
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from "../dataset/import/index.ts";

/** Upload limits; each refusal is a 413 that names the limit. */
export interface ServerLimits {
  /** Largest single uploaded file. @defaultValue 64 MiB */
  maxFileBytes: number;
  /** Largest request body. @defaultValue 512 MiB */
  maxRequestBytes: number;
  /** Most bytes one user may keep under DATA/users/<id>/. @defaultValue 20 GiB */
  maxUserBytes: number;
  /** Most pixels per image (decompression bombs). @defaultValue the import's DEFAULT_MAX_PIXELS */
  maxPixels: number;
  /** Zip bombs: the import's limits. */
  zip: ZipLimits;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: ServerLimits = {
  maxFileBytes: 64 * MiB,
  maxRequestBytes: 512 * MiB,
  maxUserBytes: 20 * 1024 * MiB,
  maxPixels: DEFAULT_MAX_PIXELS,
  zip: DEFAULT_ZIP_LIMITS,
};

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / 1024 / MiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
