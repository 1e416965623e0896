// Every training key as a form field, generated from /api/config/schema and grouped as a user looks for
// them (the key-to-field model is train-fields.ts); its default (or the preset's value) shows until the
// user changes it. Only changed keys are sent.
import { useState } from "preact/hooks";
import type { ApiError } from "../api.ts";
import { errorAt, FieldError, invalidProps } from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import { describe, fieldKind, toRaw, typeLabel, type Raw, type SchemaKey } from "./train-fields.ts";

/** Groups of keys, in the order a user looks for them; keys not named here go to "other". */
export const GROUPS: { id: string; keys: string[]; open?: boolean }[] = [
  {
    id: "essentials",
    open: true,
    keys: [
      "output_name",
      "max_train_epochs",
      "train_batch_size",
      "network_dim",
      "network_alpha",
      "learning_rate",
      "resolution",
      "optimizer_type",
      "lr_scheduler",
      "save_every_n_epochs",
      "sample_every_n_epochs",
      "trigger_word",
      "mixed_precision",
      "device",
      "seed",
    ],
  },
  { id: "length", keys: ["max_train_steps", "max_train_steps_per_image", "gradient_accumulation_steps"] },
  {
    id: "buckets",
    keys: [
      "enable_bucket",
      "min_bucket_reso",
      "max_bucket_reso",
      "bucket_reso_steps",
      "bucket_no_upscale",
      "flip_aug",
      "masked_loss",
    ],
  },
  {
    id: "captions",
    keys: [
      "caption_extension",
      "shuffle_caption",
      "caption_separator",
      "keep_tokens",
      "keep_tokens_separator",
      "caption_dropout_rate",
      "caption_tag_dropout_rate",
      "caption_prefix",
      "caption_suffix",
    ],
  },
  {
    id: "network",
    keys: [
      "network_module",
      "network_args",
      "network_dropout",
      "network_train_unet_only",
      "network_train_text_encoder_only",
    ],
  },
  {
    id: "optimizer",
    keys: [
      "unet_lr",
      "text_encoder_lr",
      "text_encoder_lr2",
      "optimizer_args",
      "max_grad_norm",
      "lr_warmup_steps",
      "lr_scheduler_num_cycles",
      "lr_scheduler_power",
    ],
  },
  {
    id: "loss",
    keys: [
      "loss_type",
      "huber_schedule",
      "huber_c",
      "huber_scale",
      "min_snr_gamma",
      "debiased_estimation_loss",
      "noise_offset",
      "noise_offset_random_strength",
      "adaptive_noise_scale",
      "multires_noise_iterations",
      "multires_noise_discount",
      "zero_terminal_snr",
      "min_timestep",
      "max_timestep",
    ],
  },
  {
    id: "saving",
    keys: ["save_every_n_steps", "save_precision", "save_state", "training_comment"],
  },
  { id: "sampling", keys: ["sample_every_n_steps", "sample_sampler", "sample_at_first"] },
  { id: "validation", keys: ["validation_split", "validation_seed", "validate_every_n_steps"] },
  {
    id: "regularization",
    keys: [
      "prior_loss_weight",
      "class_images_target",
      "class_prompt",
      "class_negative_prompt",
      "class_images_steps",
      "class_images_sampler",
    ],
  },
  {
    id: "pivotal",
    keys: [
      "pivotal_tuning",
      "pivotal_token",
      "pivotal_num_tokens",
      "pivotal_lr",
      "pivotal_fraction",
      "pivotal_init_word",
    ],
  },
  {
    id: "model",
    keys: ["v2", "sdxl", "v_parameterization", "clip_skip", "max_token_length", "no_half_vae"],
  },
  {
    id: "hardware",
    keys: [
      "gradient_checkpointing",
      "cache_latents",
      "cache_latents_to_disk",
      "cache_text_encoder_outputs",
      "num_processes",
      "gpu_ids",
    ],
  },
];

function groupsOf(keys: SchemaKey[]): { id: string; open: boolean; keys: SchemaKey[] }[] {
  const byName = new Map(keys.map((key) => [key.key, key]));
  const placed = new Set<string>();
  const out = GROUPS.map((group) => {
    const members = group.keys.flatMap((name) => {
      const key = byName.get(name);
      if (!key) return [];
      placed.add(name);
      return [key];
    });
    return { id: group.id, open: group.open ?? false, keys: members };
  });
  const rest = keys.filter((key) => !placed.has(key.key));
  return [...out, { id: "other", open: false, keys: rest }].filter((group) => group.keys.length > 0);
}

export function ConfigFields({
  keys,
  overrides,
  onChange,
  base,
  fromPreset,
  error,
}: {
  keys: SchemaKey[];
  overrides: Record<string, Raw>;
  onChange: (key: string, raw: Raw | undefined) => void;
  /** the value a key starts from: the preset's, else the default */
  base: (key: SchemaKey) => unknown;
  fromPreset: (key: string) => boolean;
  error: unknown;
}) {
  const { t } = useI18n();
  const [search, setSearch] = useState("");
  const [changedOnly, setChangedOnly] = useState(false);
  const editable = keys.filter((key) => fieldKind(key.type).kind !== "path");
  const paths = keys.filter((key) => fieldKind(key.type).kind === "path").map((key) => key.key);
  const needle = search.trim().toLowerCase();
  const errorKey = editable.find((key) => errorAt(error, `config.${key.key}`))?.key;
  const visible = (key: SchemaKey) =>
    (!needle ||
      key.key.toLowerCase().includes(needle) ||
      key.description.toLowerCase().includes(needle) ||
      key.description_zh.includes(needle)) &&
    (!changedOnly || Object.hasOwn(overrides, key.key) || key.key === errorKey);
  const filtering = needle !== "" || changedOnly;
  const groups = groupsOf(editable);
  const count = editable.filter(visible).length;
  return (
    <>
      <div class="train-config-tools">
        <label>
          {t("cfg.search")}
          <input
            type="search"
            name="config-search"
            value={search}
            placeholder={t("cfg.search.placeholder")}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            data-testid="config-search"
          />
        </label>
        <label>
          <input
            type="checkbox"
            role="switch"
            checked={changedOnly}
            onChange={(e) => setChangedOnly((e.target as HTMLInputElement).checked)}
            data-testid="config-changed-only"
          />
          {t("cfg.changedonly")}
        </label>
      </div>
      {filtering ? (
        <p class="job-muted" aria-live="polite">
          {t("cfg.matches", { n: count })}
        </p>
      ) : null}
      {groups.map((group) => {
        const shown = group.keys.filter(visible);
        if (shown.length === 0) return null;
        const changed = group.keys.filter((key) => Object.hasOwn(overrides, key.key)).length;
        return (
          <details
            key={group.id}
            open={filtering || group.open || group.keys.some((key) => key.key === errorKey)}
            data-testid={`config-group-${group.id}`}
          >
            <summary>
              {t(`cfg.group.${group.id}`)}{" "}
              <small class="job-muted">
                ({shown.length}
                {changed > 0 ? ` · ${t("cfg.changedn", { n: changed })}` : ""})
              </small>
            </summary>
            <div class="train-fields">
              {shown.map((key) => (
                <ConfigField
                  key={key.key}
                  schema={key}
                  raw={overrides[key.key]}
                  start={base(key)}
                  preset={fromPreset(key.key)}
                  onChange={(raw) => onChange(key.key, raw)}
                  error={errorAt(error, `config.${key.key}`)}
                />
              ))}
            </div>
          </details>
        );
      })}
      <p>
        <small class="job-muted">{t("cfg.paths", { keys: paths.join(", ") })}</small>
      </p>
    </>
  );
}

function shown(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(", ");
  return String(value);
}

function ConfigField({
  schema,
  raw,
  start,
  preset,
  onChange,
  error,
}: {
  schema: SchemaKey;
  raw: Raw | undefined;
  start: unknown;
  preset: boolean;
  onChange: (raw: Raw | undefined) => void;
  error: ApiError | null;
}) {
  const { t, lang } = useI18n();
  const field = fieldKind(schema.type);
  const id = `cfg-${schema.key}`;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const value = raw ?? toRaw(start, field);
  const changed = raw !== undefined;
  const describedBy = error ? `${helpId} ${errorId}` : helpId;
  const common = {
    id,
    name: `config.${schema.key}`,
    "data-testid": `config-${schema.key}`,
    ...invalidProps(error, errorId),
    "aria-describedby": describedBy,
  };
  // back to where it started: no longer a change
  const set = (next: Raw) => onChange(next === toRaw(start, field) ? undefined : next);
  let input;
  switch (field.kind) {
    case "bool":
      input = (
        <input
          {...common}
          type="checkbox"
          role="switch"
          checked={value === true}
          onChange={(e) => set((e.target as HTMLInputElement).checked)}
        />
      );
      break;
    case "tristate":
    case "select": {
      const options = field.kind === "tristate" ? ["", "true", "false"] : field.options.map(String);
      const extra = field.kind === "select" && !options.includes(String(value)) ? [String(value)] : [];
      const text = (option: string) =>
        field.kind !== "tristate"
          ? option || "—"
          : option === "true"
            ? t("cfg.yes")
            : option === "false"
              ? t("cfg.no")
              : t("cfg.detect");
      input = (
        <select
          {...common}
          value={String(value)}
          onChange={(e) => set((e.target as HTMLSelectElement).value)}
        >
          {[...extra, ...options].map((option) => (
            <option key={option} value={option}>
              {text(option)}
            </option>
          ))}
        </select>
      );
      break;
    }
    case "int":
    case "number":
      input = (
        <input
          {...common}
          type="number"
          inputMode={field.kind === "int" ? "numeric" : "decimal"}
          step={field.kind === "int" ? 1 : "any"}
          min={field.min}
          max={field.max}
          value={String(value)}
          placeholder={start === null ? t("cfg.unset") : undefined}
          onInput={(e) => set((e.target as HTMLInputElement).value)}
        />
      );
      break;
    case "list":
      input = (
        <textarea
          {...common}
          rows={2}
          value={String(value)}
          placeholder={t("cfg.list.placeholder")}
          onInput={(e) => set((e.target as HTMLTextAreaElement).value)}
        />
      );
      break;
    default:
      input = (
        <>
          <input
            {...common}
            type="text"
            value={String(value)}
            list={field.kind === "text" && field.suggestions ? `${id}-list` : undefined}
            placeholder={start === null ? t("cfg.unset") : undefined}
            onInput={(e) => set((e.target as HTMLInputElement).value)}
          />
          {field.kind === "text" && field.suggestions ? (
            <datalist id={`${id}-list`}>
              {field.suggestions.map((option) => (
                <option key={option} value={option} />
              ))}
            </datalist>
          ) : null}
        </>
      );
  }
  const marks = (
    <>
      <span class="train-key">{schema.key}</span>
      {changed ? <span class="train-mark">{t("cfg.changed")}</span> : null}
      {!changed && preset ? <span class="train-mark">{t("cfg.preset")}</span> : null}
    </>
  );
  const reset = changed ? (
    <button
      type="button"
      class="secondary outline train-reset"
      onClick={() => onChange(undefined)}
      aria-label={t("cfg.reset.aria", { key: schema.key })}
      data-testid={`config-reset-${schema.key}`}
    >
      {t("cfg.reset")}
    </button>
  ) : null;
  return (
    <div class="train-field" data-key={schema.key}>
      {field.kind === "bool" ? (
        <div class="train-field-head">
          <label for={id}>
            {input} {marks}
          </label>
          {reset}
        </div>
      ) : (
        <>
          <div class="train-field-head">
            <label for={id}>{marks}</label>
            {reset}
          </div>
          {input}
        </>
      )}
      <small id={helpId}>
        {describe(schema, lang)}
        <br />
        <span class="job-muted">
          {preset ? t("cfg.presetvalue") : t("cfg.default")}: <code>{shown(start)}</code>
          {preset ? (
            <>
              {" "}
              · {t("cfg.default")}: <code>{shown(schema.default)}</code>
            </>
          ) : null}{" "}
          · <span class="train-type">{typeLabel(schema.type, lang)}</span>
        </span>
      </small>
      <FieldError id={errorId} error={error} />
    </div>
  );
}
