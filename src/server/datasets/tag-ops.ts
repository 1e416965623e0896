import { z } from "@hono/zod-openapi";
import { loadClipTokenizer, CLIP_CAPTION_TOKENS, type ClipTokenizer } from "../../tagging/clip-tokens.ts";
import { bakeTrigger, proposeTraitTags } from "../../tagging/edit/bake.ts";
import { parseTagList, type CaptionEntry } from "../../tagging/edit/caption.ts";
import { compileTagRegex, filterEntries, type TagFilter } from "../../tagging/edit/filter.ts";
import { exactReplaceEdit, tagEditFunction } from "../../tagging/edit/folder-edit.ts";
import type { TagEdit } from "../../tagging/edit/operations.ts";
import { ApiError } from "../http-error.ts";

/** The bulk tag operations of POST /api/datasets/{name}/tags: the `danlu tags` edits, as JSON. */

const tag = z.string().min(1).max(500);
const tags = z.array(tag).min(1).max(1000);
const regex = z.string().min(1).max(200).describe("a JavaScript regular expression");

const FilterSchema = z
  .strictObject({
    all_of: z.array(tag).optional().describe("only images with all these tags"),
    any_of: z.array(tag).optional().describe("only images with at least one of these"),
    none_of: z.array(tag).optional().describe("only images with none of these"),
    regex: z.array(regex).max(20).optional().describe("only images with a tag matching each pattern"),
    ignore_case: z.boolean().optional().describe("the filter's regex ignores case"),
  })
  .describe("which images (all conditions must hold; none: every image)");

const common = {
  filter: FilterSchema.optional(),
  dry_run: z.boolean().default(false).describe("answer what would change, write nothing"),
};
const keep = {
  keep_first: z
    .union([z.number().int().min(0).max(1000), z.literal("auto")])
    .default("auto")
    .describe(
      "leading tags never edited (the trigger word); auto: 1 when every caption starts with the same tag",
    ),
};

/** One operation's body: `op`, the filter, dry_run and keep_first (bake has no keep_first: it sets the first tag). */
const op = <T extends string, S extends z.ZodRawShape>(name: T, description: string, shape: S) =>
  z.strictObject({ op: z.literal(name).describe(description), ...common, ...keep, ...shape });
const bakeOp = <S extends z.ZodRawShape>(description: string, shape: S) =>
  z.strictObject({ op: z.literal("bake").describe(description), ...common, ...shape });

export const TagOperationSchema = z
  .discriminatedUnion("op", [
    op("add", "add tags the captions lack", {
      tags,
      position: z.enum(["front", "back"]).default("back").describe("front: right after the kept first tags"),
    }),
    op("remove", "remove tags (exact, or matching a pattern)", {
      tags: z.array(tag).max(1000).default([]),
      patterns: z.array(regex).max(20).default([]),
      ignore_case: z.boolean().default(false),
    }),
    op(
      "replace",
      "replace a tag: from/to exactly, or pattern/with ($1 for groups; commas make several tags)",
      {
        from: tag.optional(),
        to: z.string().max(500).optional(),
        pattern: regex.optional(),
        with: z.string().max(500).optional(),
        ignore_case: z.boolean().default(false),
      },
    ),
    op("merge", "where a caption has all of `tags`, replace them by the one phrase `into`", {
      tags,
      into: tag,
    }),
    op("dedupe", "remove repeated tags (the first stays)", {}),
    op("sort", "sort the tags after the kept first ones", {
      by: z.enum(["alpha", "frequency", "length"]).default("alpha"),
      reverse: z.boolean().default(false),
    }),
    op(
      "front",
      "move these tags (where present) to the front, after the kept first ones: e.g. the trigger word",
      {
        tags,
      },
    ),
    op("truncate", "drop tags from the end until the caption fits max_tokens CLIP tokens", {
      max_tokens: z.number().int().min(1).max(1000).default(CLIP_CAPTION_TOKENS),
    }),
    bakeOp("put the trigger word first and remove the tags of the subject's fixed traits (danlu tags bake)", {
      trigger: tag,
      traits: z
        .array(tag)
        .max(1000)
        .optional()
        .describe("the traits to remove; default: tags in min_share of the images"),
      min_share: z.number().gt(0).max(1).default(0.6),
      except: z.array(tag).max(1000).default([]).describe("never remove these"),
    }),
  ])
  .openapi("TagOperation");
export type TagOperation = z.infer<typeof TagOperationSchema>;

export interface PreparedOperation {
  /** What the backup journal records, as the CLI would name it. */
  operation: string;
  filter: TagFilter;
  makeEdit: (entries: CaptionEntry[], keepFirst: number) => (tags: readonly string[]) => string[];
  /** bake: the traits it removed (known once the folder is read). */
  traits?: string[];
}

let tokenizer: ClipTokenizer | undefined;

function buildFilter(filter: TagOperation["filter"]): TagFilter {
  const flags = filter?.ignore_case ? "iu" : "u";
  return {
    allOf: parseTagList(filter?.all_of ?? []),
    anyOf: parseTagList(filter?.any_of ?? []),
    noneOf: parseTagList(filter?.none_of ?? []),
    regex: (filter?.regex ?? []).map((source, i) => compileTagRegex(source, `filter.regex[${i}]`, flags)),
  };
}

/** The TagEdit a (non-bake) operation asks for. */
function tagEdit(body: Exclude<TagOperation, { op: "bake" }>): TagEdit {
  const editFlags = (ignoreCase: boolean) => (ignoreCase ? "giu" : "gu");
  switch (body.op) {
    case "add":
      return { kind: "add", tags: parseTagList(body.tags), position: body.position };
    case "remove":
      return {
        kind: "remove",
        tags: parseTagList(body.tags),
        patterns: body.patterns.map((p, i) =>
          compileTagRegex(p, `patterns[${i}]`, editFlags(body.ignore_case)),
        ),
      };
    case "replace":
      if (
        body.pattern !== undefined &&
        body.with !== undefined &&
        body.from === undefined &&
        body.to === undefined
      ) {
        return {
          kind: "replace",
          pattern: compileTagRegex(body.pattern, "pattern", editFlags(body.ignore_case)),
          replacement: body.with,
        };
      }
      if (
        body.from !== undefined &&
        body.to !== undefined &&
        body.pattern === undefined &&
        body.with === undefined
      ) {
        return exactReplaceEdit(body.from, body.to);
      }
      throw new ApiError(
        400,
        "BAD_REQUEST",
        "replace: give 'from' and 'to' (exact tags), or 'pattern' and 'with'",
        {
          field: body.from === undefined ? "from" : "pattern",
        },
      );
    case "merge":
      return { kind: "merge", tags: parseTagList(body.tags), into: body.into.trim() };
    case "dedupe":
      return { kind: "dedupe" };
    case "sort":
      return { kind: "sort", by: body.by, reverse: body.reverse };
    case "front":
      return { kind: "front", tags: parseTagList(body.tags) };
    case "truncate":
      return { kind: "truncate", maxTokens: body.max_tokens };
  }
}

/** Everything but `op`, `filter`, `keep_first` and `dry_run`, as the operation's name in the journal. */
function describe(body: TagOperation): string {
  const { op: name, filter: _f, dry_run: _d, ...rest } = body as TagOperation & { keep_first?: unknown };
  delete rest.keep_first;
  const args = Object.entries(rest).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return ["tags", name, ...args].join(" ");
}

/** Turns a validated operation into the folder edit the library runs (DanluError BAD_REGEX for a bad pattern). */
export function prepareOperation(body: TagOperation): PreparedOperation {
  const filter = buildFilter(body.filter);
  const operation = describe(body);
  if (body.op === "bake") {
    const prepared: PreparedOperation = { operation, filter, makeEdit: () => (t) => [...t] };
    const [trigger, ...extra] = parseTagList([body.trigger]);
    if (trigger === undefined || extra.length > 0) {
      throw new ApiError(400, "BAD_REQUEST", `trigger ${JSON.stringify(body.trigger)} must be one tag`, {
        field: "trigger",
        hint: "a trigger word contains no comma, e.g. ohwx",
      });
    }
    const except = new Set(parseTagList(body.except));
    prepared.makeEdit = (entries) => {
      const traits = body.traits
        ? parseTagList(body.traits)
        : proposeTraitTags(filterEntries(entries, filter), body.min_share, trigger).map((c) => c.tag);
      prepared.traits = traits.filter((t) => !except.has(t));
      const traitSet = new Set(prepared.traits);
      return (current) => bakeTrigger(current, trigger, traitSet);
    };
    return prepared;
  }
  const edit = tagEdit(body);
  let countTokens: ((text: string) => number) | undefined;
  if (edit.kind === "truncate") {
    const clip = (tokenizer ??= loadClipTokenizer());
    countTokens = (text) => clip.countTokens(text);
  }
  return {
    operation,
    filter,
    makeEdit: (entries, keepFirst) => tagEditFunction(edit, entries, keepFirst, countTokens),
  };
}
