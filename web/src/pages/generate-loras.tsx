// The LoRA rows of the generate form: files of the user's finished trainings, each with a weight.
import type { ComponentChildren } from "preact";
import type { Job } from "../api.ts";
import { useI18n } from "../i18n/index.ts";
import { newLoraRow, type LoraRow } from "./generate-params.ts";

/** One train job's LoRA files, as GET /api/jobs?kind=train&state=succeeded lists them. */
export interface LoraSource {
  job: string;
  /** What the user named the training (config.output_name), else its dataset, else the job id. */
  name: string;
  finishedAt: string | null;
  files: string[];
}

export function loraSources(jobs: Job[]): LoraSource[] {
  return jobs
    .map((job) => {
      const result = job.result as { files?: unknown } | null;
      const files = Array.isArray(result?.files)
        ? result.files.filter((file): file is string => typeof file === "string")
        : [];
      const config = (job.params.config ?? {}) as Record<string, unknown>;
      const name =
        typeof config.output_name === "string"
          ? config.output_name
          : typeof job.params.dataset === "string"
            ? job.params.dataset
            : job.id;
      return { job: job.id, name, finishedAt: job.finished_at, files };
    })
    .filter((source) => source.files.length > 0);
}

const valueOf = (job: string, file: string) => `${job}/${file}`;

function splitValue(value: string): { job: string; file: string } {
  const at = value.indexOf("/");
  return at < 0 ? { job: "", file: "" } : { job: value.slice(0, at), file: value.slice(at + 1) };
}

export function LoraPicker({
  rows,
  sources,
  onChange,
  error,
}: {
  rows: LoraRow[];
  sources: LoraSource[] | null;
  onChange: (rows: LoraRow[]) => void;
  error: ComponentChildren;
}) {
  const { t, lang } = useI18n();
  const update = (key: number, change: Partial<LoraRow>) =>
    onChange(rows.map((row) => (row.key === key ? { ...row, ...change } : row)));
  const first = sources?.[0];
  const date = (iso: string | null) =>
    iso ? new Date(iso).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-US") : "";
  return (
    <fieldset data-testid="gen-loras" aria-describedby="gen-loras-help">
      <legend>{t("gen.loras")}</legend>
      {rows.map((row, index) => {
        const known = sources?.some((s) => s.job === row.job && s.files.includes(row.file));
        const id = `gen-lora-${row.key}`;
        return (
          <div class="gen-lora-row" key={row.key} style={LORA_ROW}>
            <label for={id}>
              {t("gen.lora.n", { n: index + 1 })}
              <select
                id={id}
                data-testid="gen-lora-select"
                value={valueOf(row.job, row.file)}
                onChange={(e) => update(row.key, splitValue((e.target as HTMLSelectElement).value))}
              >
                {known || !row.job ? null : (
                  <option value={valueOf(row.job, row.file)}>
                    {t("gen.lora.other", { file: row.file })}
                  </option>
                )}
                {(sources ?? []).map((source) => (
                  <optgroup
                    key={source.job}
                    label={t("gen.lora.group", { name: source.name, date: date(source.finishedAt) })}
                  >
                    {source.files.map((file) => (
                      <option key={file} value={valueOf(source.job, file)}>
                        {file}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </select>
            </label>
            <label for={`${id}-weight`}>
              {t("gen.lora.weight")}
              <input
                id={`${id}-weight`}
                type="number"
                inputMode="decimal"
                data-testid="gen-lora-weight"
                min={-4}
                max={4}
                step={0.05}
                required
                value={row.weight}
                onInput={(e) => update(row.key, { weight: (e.target as HTMLInputElement).value })}
              />
            </label>
            <button
              type="button"
              class="secondary outline"
              style={{ marginBottom: "var(--pico-spacing)" }}
              data-testid="gen-lora-remove"
              aria-label={t("gen.lora.remove.n", { n: index + 1 })}
              title={t("gen.lora.remove.n", { n: index + 1 })}
              onClick={() => onChange(rows.filter((r) => r.key !== row.key))}
            >
              ✕
            </button>
          </div>
        );
      })}
      <small id="gen-loras-help" style={{ display: "block", marginBottom: "0.5rem" }}>
        {sources === null
          ? t("common.loading")
          : sources.length === 0
            ? t("gen.loras.none")
            : t("gen.loras.help")}
      </small>
      {error}
      <button
        type="button"
        class="secondary outline"
        data-testid="gen-lora-add"
        disabled={!first}
        onClick={() => first && onChange([...rows, newLoraRow(first.job, first.files[0])])}
      >
        {t("gen.lora.add")}
      </button>
    </fieldset>
  );
}

/** LoRA file, weight, remove: one line even at 375 px (the file name takes what is left). */
const LORA_ROW = {
  display: "grid",
  gridTemplateColumns: "minmax(0, 1fr) 5.5rem auto",
  columnGap: "0.5rem",
  alignItems: "end",
};
