import { DanluError } from "../../errors.ts";
import { dataCheck, dataCrop, dataImport } from "./dataset.ts";
import { dataLayout } from "./dataset-layout.ts";
import { evaluate, grid } from "./evaluate.ts";
import { gen } from "./generate.ts";
import { loraConvert, loraInfo } from "./lora.ts";
import { loraBake, loraExtract, loraMerge, loraResize } from "./lora-tools.ts";
import { portrait } from "./portrait.ts";
import { tag } from "./tagging.ts";
import { train } from "./train.ts";
import type { JobKind } from "./types.ts";

export type { JobKind, KindContext, UserPaths } from "./types.ts";

const KINDS = [
  dataImport,
  dataCheck,
  dataCrop,
  dataLayout,
  tag,
  train,
  grid,
  evaluate,
  gen,
  loraInfo,
  loraConvert,
  loraMerge,
  loraResize,
  loraBake,
  loraExtract,
  portrait,
] as const;

/** Every job kind by name: `POST /api/jobs {kind, params}`; each runs the library function its CLI command runs. */
export const JOB_KINDS: Record<string, JobKind> = Object.fromEntries(
  KINDS.map((kind) => [kind.name, kind as unknown as JobKind]),
);

/** The kind called `name`; an unknown name is a DanluError (UNKNOWN_KIND) listing the kinds. */
export function jobKind(name: string): JobKind {
  const kind = Object.hasOwn(JOB_KINDS, name) ? JOB_KINDS[name] : undefined;
  if (kind) return kind;
  throw new DanluError(`unknown job kind '${name}'`, {
    code: "UNKNOWN_KIND",
    hint: `kinds: ${Object.keys(JOB_KINDS).join(", ")}`,
  });
}
