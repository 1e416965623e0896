import { isAbsolute, relative, resolve } from "node:path";
import { DanluError } from "../../errors.ts";

/**
 * Pure decisions of `danlu data layout`: concept names, folder names, and how many repeats each concept
 * gets so that every concept contributes about the same number of samples per epoch.
 */

export interface ConceptSource {
  /** Class tokens of the kohya folder (`{repeats}_{name}`), also the caption of uncaptioned images. */
  name: string;
  dir: string;
}

/**
 * Samples per epoch a concept aims at when no repeats are given: the guides' 10 repeats of ~20 images.
 * A concept with more images than this gets 1 repeat and sets the target for the others.
 */
export const DEFAULT_SAMPLES_PER_CONCEPT = 200;

/** Repeats of the regularization folder, as kohya_ss lays it out: the trainer cycles reg images to match. */
export const REG_REPEATS = 1;

const EXAMPLE_FOLDERS = "e.g. --out project/img --reg-out project/reg, as kohya_ss prepares a project";

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The two folders a layout writes: the train_data_dir (--out) and, with --reg, a reg_data_dir (--reg-out)
 * beside it, never inside. sd-scripts reads regularization images only from reg_data_dir; a folder of
 * them inside train_data_dir is skipped (no repeat count) or, worse, trained on as a concept.
 */
export function checkLayoutFolders(out: string, regOut: string | null, hasReg: boolean): void {
  if (hasReg && regOut === null) {
    throw new DanluError("--reg needs --reg-out: the reg_data_dir to write the regularization images to", {
      hint: `give a folder beside --out, not inside it (${EXAMPLE_FOLDERS})`,
    });
  }
  if (!hasReg && regOut !== null) {
    throw new DanluError("--reg-out is given without --reg", {
      hint: "add --reg CLASS=DIR, or drop --reg-out",
    });
  }
  if (regOut === null) return;
  const [train, reg] = [resolve(out), resolve(regOut)];
  if (isInside(train, reg) || isInside(reg, train)) {
    throw new DanluError(
      `--reg-out ${reg} and --out ${train} must be separate folders, neither inside the other`,
      {
        hint: `sd-scripts reads regularization images from their own reg_data_dir (${EXAMPLE_FOLDERS})`,
      },
    );
  }
}

// Characters that are not portable in folder names (Windows forbids these), and path separators.
const UNSAFE_NAME = /[<>:"/\\|?*\p{Cc}]/u;

export function checkConceptName(name: string, flag: string): string {
  const trimmed = name.trim();
  if (!trimmed || UNSAFE_NAME.test(trimmed) || trimmed.startsWith(".") || trimmed !== name) {
    throw new DanluError(`${flag}: ${JSON.stringify(name)} is not a usable concept name`, {
      hint: 'a name is the class tokens of the folder, e.g. "ohwx woman": no slashes, quotes or <>:|?*, no leading dot or spaces',
    });
  }
  return trimmed;
}

/** "name=DIR" (the name may contain spaces, the DIR may contain "="; the first "=" splits). */
export function parseNamed(text: string, flag: string): { name: string; value: string } {
  const at = text.indexOf("=");
  if (at <= 0 || at === text.length - 1) {
    throw new DanluError(`${flag} ${JSON.stringify(text)}: expected NAME=VALUE`, {
      hint: `e.g. ${flag} "ohwx woman=photos/alice"`,
    });
  }
  return { name: checkConceptName(text.slice(0, at), flag), value: text.slice(at + 1) };
}

export function parseConcepts(values: readonly string[]): ConceptSource[] {
  const concepts = values.map((value) => {
    const { name, value: dir } = parseNamed(value, "--concept");
    return { name, dir };
  });
  const seen = new Set<string>();
  for (const { name } of concepts) {
    if (seen.has(name))
      throw new DanluError(`--concept ${name} is given twice`, { hint: "each concept once" });
    seen.add(name);
  }
  return concepts;
}

export function parseRepeats(
  values: readonly string[],
  concepts: readonly ConceptSource[],
): Map<string, number> {
  const repeats = new Map<string, number>();
  for (const value of values) {
    const { name, value: count } = parseNamed(value, "--repeats");
    const number = Number(count);
    if (!Number.isInteger(number) || number < 1) {
      throw new DanluError(`--repeats ${value}: the count must be a whole number of at least 1`);
    }
    if (!concepts.some((concept) => concept.name === name)) {
      throw new DanluError(`--repeats ${value}: there is no --concept named ${JSON.stringify(name)}`, {
        hint: `concepts: ${concepts.map((c) => c.name).join(", ")}`,
      });
    }
    repeats.set(name, number);
  }
  return repeats;
}

/** `--reg DIR` with `--reg-class CLASS`, or `--reg CLASS=DIR`. */
export function parseReg(value: string, regClass: string | undefined): ConceptSource {
  if (regClass !== undefined) return { name: checkConceptName(regClass, "--reg-class"), dir: value };
  if (value.includes("=")) {
    const { name, value: dir } = parseNamed(value, "--reg");
    return { name, dir };
  }
  throw new DanluError(`--reg ${value}: the regularization images need a class`, {
    hint: 'give --reg "woman=DIR" or --reg-class woman (the class the concept belongs to)',
  });
}

/**
 * Repeats per concept: the given ones stay; the others are chosen so images x repeats comes near the
 * target (the largest images x repeats among the given ones, else DEFAULT_SAMPLES_PER_CONCEPT or the
 * largest concept's image count, whichever is more). Never below 1.
 */
export function balanceRepeats(
  imageCounts: ReadonlyMap<string, number>,
  explicit: ReadonlyMap<string, number>,
): Map<string, number> {
  const given = [...explicit].map(([name, repeats]) => (imageCounts.get(name) ?? 0) * repeats);
  const target =
    given.length > 0 ? Math.max(...given) : Math.max(DEFAULT_SAMPLES_PER_CONCEPT, ...imageCounts.values());
  const repeats = new Map<string, number>();
  for (const [name, count] of imageCounts) {
    repeats.set(name, explicit.get(name) ?? Math.max(1, Math.round(target / Math.max(1, count))));
  }
  return repeats;
}

export function subsetFolderName(repeats: number, name: string): string {
  return `${repeats}_${name}`;
}
