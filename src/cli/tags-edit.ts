import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, relative, resolve } from "node:path";
import type { Command } from "commander";
import { DanluError } from "../errors.ts";
import { writeBatchWithBackup } from "../tagging/backup.ts";
import { formatCaption, parseCaption } from "../tagging/edit/caption.ts";
import {
  DEFAULT_CAPTION_EXTENSION,
  captionFileFor,
  decodeCaptionText,
  normalizeCaptionExtension,
} from "../tagging/edit/caption-files.ts";
import { shownPath } from "./paths.ts";

interface EditFlags {
  set?: string;
  root?: string;
  ext: string;
}

/** The caption file of FILE, which may be the image or the caption file itself. */
function captionPathOf(file: string, extension: string): string {
  const path =
    extname(file).toLowerCase() === extension.toLowerCase() ? file : captionFileFor(file, extension);
  if (!existsSync(file) && !existsSync(path)) {
    throw new DanluError(`${file} does not exist`, {
      hint: "give an image of the dataset or its caption file",
    });
  }
  return path;
}

/** `danlu tags edit FILE [--set CAPTION]`: show or set the caption of one image. */
export function registerTagsEdit(tags: Command): void {
  tags
    .command("edit <file>")
    .description("show one image's tags, or set its caption with --set (backed up like every batch)")
    .option("--set <caption>", "the new caption (comma-separated tags)")
    .option(
      "--root <dir>",
      "the dataset folder whose backups and undo this edit joins (default: FILE's folder)",
    )
    .option("--ext <extension>", "caption file extension", DEFAULT_CAPTION_EXTENSION)
    .action(async (file: string, flags: EditFlags) => {
      const captionPath = resolve(captionPathOf(file, normalizeCaptionExtension(flags.ext)));
      if (flags.set === undefined) {
        const text = existsSync(captionPath) ? decodeCaptionText(await readFile(captionPath)) : "";
        process.stdout.write(formatCaption(parseCaption(text)) + "\n");
        return;
      }
      const root = resolve(flags.root ?? dirname(captionPath));
      const tagsText = formatCaption(parseCaption(flags.set));
      const { batch } = await writeBatchWithBackup(
        root,
        [{ path: relative(root, captionPath), text: tagsText }],
        `tags edit ${file}`,
      );
      process.stdout.write(batch === null ? "unchanged\n" : `${shownPath(captionPath)}: ${tagsText}\n`);
    });
}
