import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, posix, relative, resolve, sep } from "node:path";
import { CAPTION_EXTENSIONS, isImportableImage } from "../images.ts";
import { isZipPath, listZip, type ZipLimits } from "./zip.ts";

/** One input file, on disk or inside an archive, not yet read. */
export interface SourceFile {
  /** What the report and manifest call it: the path, or `archive.zip:entry/name.jpg`. */
  origin: string;
  /** Path relative to the source root with `/` separators: pairs images with captions. */
  relativeName: string;
  size: number;
  read(): Promise<Buffer>;
}

export interface ImportItem {
  image: SourceFile;
  caption?: SourceFile;
}

export interface Rejection {
  origin: string;
  reason: string;
}

export interface SourceSet {
  items: ImportItem[];
  rejected: Rejection[];
  /** Files that are not images (other extensions, captions without an image): listed, not errors. */
  skipped: Rejection[];
  close(): void;
}

/**
 * Lists every image (with its caption file) under the given folders, files and zip archives. Only names
 * and sizes are held; bytes are read later, one image per worker. The output folder is never read as
 * a source, even when it lies inside a source folder.
 */
export async function collectSources(
  paths: readonly string[],
  outDir: string,
  zipLimits: ZipLimits,
): Promise<SourceSet> {
  const set: SourceSet = { items: [], rejected: [], skipped: [], close: () => {} };
  const closers: (() => void)[] = [];
  const addZip = async (path: string): Promise<void> => {
    try {
      const zip = await listZip(path, zipLimits);
      closers.push(zip.close);
      set.rejected.push(...zip.rejected);
      pairCaptions(zip.files, set);
    } catch (error) {
      set.rejected.push({ origin: path, reason: `unreadable zip archive: ${firstLine(error)}` });
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) {
      set.rejected.push({ origin: path, reason: "not found" });
    } else if (info.isDirectory()) {
      const files = await walkFolder(path, resolve(outDir));
      for (const zip of files.filter((file) => isZipPath(file.relativeName))) await addZip(zip.origin);
      pairCaptions(
        files.filter((file) => !isZipPath(file.relativeName)),
        set,
      );
    } else if (isZipPath(path)) {
      await addZip(path);
    } else {
      pairCaptions(await singleFile(path, info.size), set);
    }
  }
  set.close = () => closers.forEach((close) => close());
  return set;
}

function diskFile(path: string, relativeName: string, size: number): SourceFile {
  return { origin: path, relativeName, size, read: () => readFile(path) };
}

async function walkFolder(root: string, outDir: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      // Hidden files, macOS resource forks (`._x.jpg`, __MACOSX/) and symlinked folders (loops) are skipped.
      if (entry.name.startsWith(".") || entry.name === "__MACOSX") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (resolve(path) !== outDir) await visit(path);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        const info = await stat(path).catch(() => undefined);
        if (!info?.isFile()) continue;
        files.push(diskFile(path, relative(root, path).split(sep).join("/"), info.size));
      }
    }
  };
  await visit(root);
  return files;
}

/** A file named on the command line, plus its caption files if they sit beside it. */
async function singleFile(path: string, size: number): Promise<SourceFile[]> {
  const files = [diskFile(path, basename(path), size)];
  const stem = basename(path, extname(path));
  for (const ext of CAPTION_EXTENSIONS) {
    const captionPath = join(dirname(path), stem + ext);
    const info = await stat(captionPath).catch(() => undefined);
    if (info?.isFile()) files.push(diskFile(captionPath, stem + ext, info.size));
  }
  return files;
}

/** Groups files by folder and stem: `a/x.jpg` takes `a/x.txt` (preferred) or `a/x.caption`. */
function pairCaptions(files: readonly SourceFile[], set: SourceSet): void {
  const captions = new Map<string, SourceFile>();
  const key = (name: string): string => {
    const ext = posix.extname(name);
    return name.slice(0, name.length - ext.length);
  };
  for (const file of files) {
    const ext = posix.extname(file.relativeName).toLowerCase();
    if (!CAPTION_EXTENSIONS.includes(ext)) continue;
    const k = key(file.relativeName);
    if (!captions.has(k) || ext === ".txt") captions.set(k, file);
  }
  const used = new Set<SourceFile>();
  for (const file of files) {
    const ext = posix.extname(file.relativeName).toLowerCase();
    if (CAPTION_EXTENSIONS.includes(ext)) continue;
    if (!isImportableImage(file.relativeName)) {
      set.skipped.push({ origin: file.origin, reason: `not an image file (${ext || "no extension"})` });
      continue;
    }
    const caption = captions.get(key(file.relativeName));
    if (caption) used.add(caption);
    set.items.push(caption ? { image: file, caption } : { image: file });
  }
  for (const caption of captions.values()) {
    if (!used.has(caption)) set.skipped.push({ origin: caption.origin, reason: "caption without an image" });
  }
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? "").trim();
}
