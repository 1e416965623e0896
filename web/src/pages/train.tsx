// The train form (/train, ?dataset=NAME): dataset, base model, preset (each setting with its value and
// reason), every training key from the config schema, sample prompts; the plan before starting, kohya
// config import/export, and Start, which queues a train job and opens its run page.
import { useLocation } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { getJson, sendJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { errorAt, errorField, FieldError, formatBytes, invalidProps } from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import "../i18n/train.ts";
import { ConfigFields } from "./train-config.tsx";
import { changedConfig, fieldKind, fromRaw, toRaw, type Raw, type SchemaKey } from "./train-fields.ts";
import { KohyaImport, saveText } from "./train-kohya.tsx";
import { inLang, PlanView, PresetDetails, showValue, type Plan, type Preset } from "./train-plan.tsx";

interface DatasetSummary {
  name: string;
  images: number;
  bytes: number;
}

type Action = "plan" | "start" | "export";

const TOP_FIELDS = ["dataset", "model", "preset", "reg_dataset", "sample_prompts"];

export default function TrainPage() {
  const { t, lang } = useI18n();
  const { query, route } = useLocation();
  const [datasets, setDatasets] = useState<DatasetSummary[] | null>(null);
  const [models, setModels] = useState<{ name: string; bytes: number }[] | null>(null);
  const [presets, setPresets] = useState<Preset[]>([]);
  const [keys, setKeys] = useState<SchemaKey[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);

  const [dataset, setDataset] = useState(query.dataset ?? "");
  const [model, setModel] = useState("");
  const [preset, setPreset] = useState("");
  const [regDataset, setRegDataset] = useState("");
  const [prompts, setPrompts] = useState("");
  const [overrides, setOverrides] = useState<Record<string, Raw>>({});

  const [plan, setPlan] = useState<{ plan: Plan; for: string } | null>(null);
  const [error, setError] = useState<{ error: unknown; action: Action } | null>(null);
  const [busy, setBusy] = useState<Action | null>(null);

  useEffect(() => {
    Promise.all([
      getJson<{ datasets: DatasetSummary[] }>("/api/datasets"),
      getJson<{ models: { name: string; bytes: number }[] }>("/api/models"),
      getJson<{ presets: Preset[] }>("/api/presets"),
      getJson<{ keys: SchemaKey[] }>("/api/config/schema"),
    ])
      .then(([d, m, p, k]) => {
        setDatasets(d.datasets);
        setModels(m.models);
        setPresets(p.presets);
        setKeys(k.keys);
        setDataset((now) => now || d.datasets[0]?.name || "");
        setModel((now) => now || m.models[0]?.name || "");
      })
      .catch(setLoadError);
  }, []);
  useEffect(() => {
    if (query.dataset) setDataset(query.dataset);
  }, [query.dataset]);

  const chosen = presets.find((p) => p.name === preset) ?? null;
  const presetValues = useMemo(
    () => new Map((chosen?.settings ?? []).map((s) => [s.key, s.value])),
    [chosen],
  );
  const base = (key: SchemaKey) => (presetValues.has(key.key) ? presetValues.get(key.key) : key.default);
  const effective = (name: string): unknown => {
    const key = keys.find((k) => k.key === name);
    if (!key) return undefined;
    const raw = overrides[name];
    return raw === undefined ? base(key) : fromRaw(raw, fieldKind(key.type));
  };

  const params = (): Record<string, unknown> => ({
    dataset,
    model,
    ...(preset ? { preset } : {}),
    config: changedConfig(keys, overrides, base),
    ...(regDataset ? { reg_dataset: regDataset } : {}),
    ...(prompts.trim() ? { sample_prompts: prompts } : {}),
  });
  const paramsText = JSON.stringify(params());

  const setOverride = (key: string, raw: Raw | undefined) => {
    // the error about this field is answered by changing it
    setError((now) => (now && errorField(now.error) === `config.${key}` ? null : now));
    setOverrides((now) => {
      const next = { ...now };
      if (raw === undefined) delete next[key];
      else next[key] = raw;
      return next;
    });
  };

  /** A kohya import replaces the changed keys; returns the keys the form has no field for. */
  const importConfig = (config: Record<string, unknown>): string[] => {
    const next: Record<string, Raw> = {};
    const skipped: string[] = [];
    for (const [name, value] of Object.entries(config)) {
      const key = keys.find((k) => k.key === name);
      const field = key ? fieldKind(key.type) : null;
      if (!key || !field || field.kind === "path") {
        skipped.push(name);
        continue;
      }
      const raw = toRaw(value, field);
      if (raw !== toRaw(base(key), field)) next[name] = raw;
    }
    setOverrides(next);
    return skipped;
  };

  const run = async (action: Action) => {
    setBusy(action);
    setError(null);
    try {
      if (action === "plan") {
        const sent = paramsText;
        setPlan({ plan: await sendJson<Plan>("/api/train/plan", params()), for: sent });
      } else if (action === "export") {
        const { toml } = await sendJson<{ toml: string }>("/api/train/kohya-export", params());
        saveText(toml, `${showValue(effective("output_name")) || "danlu"}.toml`);
      } else {
        const job = await sendJson<Job>("/api/jobs", { kind: "train", params: params() });
        route(`/jobs/${encodeURIComponent(job.id)}`);
      }
    } catch (caught) {
      setError({ error: caught, action });
      // the field the error names gets the focus (its group opens)
      const field = errorField(caught);
      if (field) {
        setTimeout(() => {
          const input = document.querySelector<HTMLElement>(`[name="${field}"]`);
          input?.focus();
          input?.scrollIntoView({ block: "center" });
        }, 50);
      }
    } finally {
      setBusy(null);
    }
  };

  if (loadError) {
    return (
      <>
        <h1>{t("train.title")}</h1>
        <ErrorBox error={loadError} />
      </>
    );
  }
  if (!datasets || !models) return <p aria-busy="true">{t("common.loading")}</p>;

  const err = error?.error ?? null;
  const at = (field: string) => errorAt(err, field);
  const field = errorField(err);
  const placed =
    field !== null &&
    (TOP_FIELDS.includes(field) ||
      (field.startsWith("config.") && keys.some((k) => `config.${k.key}` === field)));
  const actionError = error && !placed ? error : null;
  const noSamples =
    prompts.trim() !== "" && !effective("sample_every_n_epochs") && !effective("sample_every_n_steps");
  const ready = dataset !== "" && model !== "";

  return (
    <>
      <h1>{t("train.title")}</h1>
      <p class="job-muted">{t("train.intro")}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run("start");
        }}
        aria-label={t("train.title")}
        novalidate
      >
        <section aria-labelledby="train-what">
          <h2 id="train-what">{t("train.what")}</h2>
          <div class="grid">
            <div>
              <label for="train-dataset">{t("train.dataset")}</label>
              <select
                id="train-dataset"
                name="dataset"
                value={dataset}
                onChange={(e) => setDataset((e.target as HTMLSelectElement).value)}
                data-testid="dataset-select"
                required
                {...invalidProps(at("dataset"), "train-dataset-error")}
                aria-describedby={at("dataset") ? "train-dataset-error" : "train-dataset-help"}
              >
                {dataset && !datasets.some((d) => d.name === dataset) ? (
                  <option value={dataset}>{dataset}</option>
                ) : null}
                {datasets.length === 0 ? <option value="">{t("train.dataset.none")}</option> : null}
                {datasets.map((d) => (
                  <option key={d.name} value={d.name}>
                    {d.images > 0
                      ? t("train.dataset.option", { name: d.name, n: d.images })
                      : t("train.dataset.layout", { name: d.name })}
                  </option>
                ))}
              </select>
              <small id="train-dataset-help">
                {t("train.dataset.help")}{" "}
                {dataset ? (
                  <a href={`/datasets/${encodeURIComponent(dataset)}`}>{t("train.dataset.open")}</a>
                ) : null}
              </small>
              <FieldError id="train-dataset-error" error={at("dataset")} />
            </div>
            <div>
              <label for="train-model">{t("train.model")}</label>
              <select
                id="train-model"
                name="model"
                value={model}
                onChange={(e) => setModel((e.target as HTMLSelectElement).value)}
                data-testid="model-select"
                required
                {...invalidProps(at("model"), "train-model-error")}
                aria-describedby={at("model") ? "train-model-error" : "train-model-help"}
              >
                {models.length === 0 ? <option value="">{t("train.model.none")}</option> : null}
                {models.map((m) => (
                  <option key={m.name} value={m.name}>
                    {m.name} ({formatBytes(m.bytes)})
                  </option>
                ))}
              </select>
              <small id="train-model-help">{t("train.model.help")}</small>
              <FieldError id="train-model-error" error={at("model")} />
            </div>
          </div>
          <div class="grid">
            <div>
              <label for="train-preset">{t("train.preset")}</label>
              <select
                id="train-preset"
                name="preset"
                value={preset}
                onChange={(e) => setPreset((e.target as HTMLSelectElement).value)}
                data-testid="preset-select"
                {...invalidProps(at("preset"), "train-preset-error")}
                aria-describedby={at("preset") ? "train-preset-error" : "train-preset-help"}
              >
                <option value="">{t("train.preset.none")}</option>
                {presets.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
              <small id="train-preset-help">
                {chosen ? inLang(chosen, lang).summary : t("train.preset.help")}
              </small>
              <FieldError id="train-preset-error" error={at("preset")} />
            </div>
            <div>
              <label for="train-reg">{t("train.reg")}</label>
              <select
                id="train-reg"
                name="reg_dataset"
                value={regDataset}
                onChange={(e) => setRegDataset((e.target as HTMLSelectElement).value)}
                data-testid="reg-dataset-select"
                {...invalidProps(at("reg_dataset"), "train-reg-error")}
                aria-describedby={at("reg_dataset") ? "train-reg-error" : "train-reg-help"}
              >
                <option value="">{t("train.reg.none")}</option>
                {datasets
                  .filter((d) => d.name !== dataset)
                  .map((d) => (
                    <option key={d.name} value={d.name}>
                      {d.name}
                    </option>
                  ))}
              </select>
              <small id="train-reg-help">{t("train.reg.help")}</small>
              <FieldError id="train-reg-error" error={at("reg_dataset")} />
            </div>
          </div>
          {chosen ? <PresetDetails preset={chosen} /> : null}
        </section>

        <section aria-labelledby="train-settings">
          <h2 id="train-settings">{t("train.settings")}</h2>
          <p class="job-muted">
            {t("train.settings.intro")}{" "}
            <strong data-testid="changed-count">
              {t("train.settings.changed", { n: Object.keys(changedConfig(keys, overrides, base)).length })}
            </strong>
          </p>
          <KohyaImport onImport={importConfig} />
          <ConfigFields
            keys={keys}
            overrides={overrides}
            onChange={setOverride}
            base={base}
            fromPreset={(key) => presetValues.has(key)}
            error={err}
          />
        </section>

        <section aria-labelledby="train-samples">
          <h2 id="train-samples">{t("train.prompts")}</h2>
          <label for="train-prompts" class="visually-hidden">
            {t("train.prompts")}
          </label>
          <textarea
            id="train-prompts"
            name="sample_prompts"
            rows={4}
            value={prompts}
            spellcheck={false}
            placeholder={t("train.prompts.placeholder")}
            onInput={(e) => setPrompts((e.target as HTMLTextAreaElement).value)}
            data-testid="sample-prompts"
            {...invalidProps(at("sample_prompts"), "train-prompts-error")}
            aria-describedby={at("sample_prompts") ? "train-prompts-error" : "train-prompts-help"}
          />
          <small id="train-prompts-help">{t("train.prompts.help")}</small>
          <FieldError id="train-prompts-error" error={at("sample_prompts")} />
          {noSamples ? (
            <p role="status" data-testid="prompts-no-samples">
              <small>{t("train.prompts.nosamples")}</small>{" "}
              <button
                type="button"
                class="small secondary outline"
                onClick={() => setOverride("sample_every_n_epochs", "1")}
                data-testid="sample-every-epoch"
              >
                {t("train.prompts.everyepoch")}
              </button>
            </p>
          ) : null}
        </section>

        <div class="job-row-actions train-actions">
          <button
            type="button"
            class="secondary"
            onClick={() => void run("plan")}
            disabled={!ready || busy !== null}
            aria-busy={busy === "plan"}
            data-testid="plan-button"
          >
            {t("train.plan")}
          </button>
          <button
            type="button"
            class="secondary outline"
            onClick={() => void run("export")}
            disabled={!ready || busy !== null}
            aria-busy={busy === "export"}
            data-testid="kohya-export-button"
          >
            {t("kohya.export.button")}
          </button>
          <button
            type="submit"
            disabled={!ready || busy !== null}
            aria-busy={busy === "start"}
            data-testid="start-button"
          >
            {t("train.start")}
          </button>
        </div>
        {actionError ? (
          <div data-testid="action-error">
            <ErrorBox error={actionError.error} />
          </div>
        ) : null}
        {error && placed ? (
          <p role="status" class="job-muted" data-testid="error-placed">
            <small>{t("train.error.atfield", { field: field ?? "" })}</small>
          </p>
        ) : null}
      </form>

      {plan ? <PlanView plan={plan.plan} stale={plan.for !== paramsText} /> : null}
    </>
  );
}
