/** What the kohya readers return: subsets of measured images with their captions. */

export interface KohyaImage {
  /** Absolute path. */
  path: string;
  /** Size after EXIF orientation, in pixels. */
  width: number;
  height: number;
  /** From the caption file; null when there is none (the subset's class tokens are used instead). */
  caption: string | null;
}

export interface KohyaSubset {
  dir: string;
  /** Class tokens: from the folder name after "{repeats}_", or a dataset config's class_tokens. */
  name: string;
  repeats: number;
  isReg: boolean;
  images: KohyaImage[];
}

export interface KohyaDataset {
  subsets: KohyaSubset[];
  captionExtension: string;
  /** Things a person should know that do not stop training (ignored folders, missing captions, ...). */
  warnings: string[];
}

/** The caption an image trains with before per-step processing: its file's, else the class tokens. */
export function baseCaption(image: KohyaImage, subset: KohyaSubset): string {
  return image.caption ?? subset.name;
}
