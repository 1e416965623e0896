// /generate: a base model, an A1111 prompt, sampler settings and LoRAs from the user's trainings; Generate
// queues a gen job, follows it and shows its images. ?job=ID&file=FILE starts with that job's LoRA chosen.
import type { ComponentChildren } from "preact";
import { useRoute } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { ApiError, getJson, sendJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { generate as strings } from "../i18n/generate.ts";
import { registerStrings, useI18n } from "../i18n/index.ts";
import { DetailFields, HiresFields, Img2ImgFields } from "./generate-extras.tsx";
import { GenHistory } from "./generate-history.tsx";
import { LoraPicker, loraSources, type LoraSource } from "./generate-loras.tsx";
import {
  controlOf,
  defaultForm,
  fromParams,
  newLoraRow,
  SAMPLERS,
  toParams,
  type GenForm,
  type NumberField,
} from "./generate-params.ts";
import { GenResult } from "./generate-result.tsx";

registerStrings(strings);

const FORM_KEY = "danlu.gen.form";

function savedForm(): GenForm {
  try {
    const saved = JSON.parse(localStorage.getItem(FORM_KEY) ?? "null") as Record<string, unknown> | null;
    if (saved) return fromParams(saved, defaultForm());
  } catch {
    // an old or broken saved form: start fresh
  }
  return defaultForm();
}

interface Model {
  name: string;
  bytes: number;
}

export default function Generate() {
  const { t } = useI18n();
  const { query } = useRoute();
  const [form, setForm] = useState<GenForm>(() => {
    const start = savedForm();
    const { job, file } = query;
    if (job && file && !start.loras.some((row) => row.job === job && row.file === file)) {
      return { ...start, loras: [...start.loras, newLoraRow(job, file)] };
    }
    return start;
  });
  const [models, setModels] = useState<Model[] | null>(null);
  const [sources, setSources] = useState<LoraSource[] | null>(null);
  const [history, setHistory] = useState<Job[] | null>(null);
  const [current, setCurrent] = useState<Job | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);

  const loadHistory = () =>
    getJson<{ jobs: Job[] }>("/api/jobs?kind=gen&limit=30")
      .then(({ jobs }) => {
        setHistory(jobs);
        return jobs;
      })
      .catch((caught: unknown) => {
        setLoadError(caught);
        return [] as Job[];
      });

  useEffect(() => {
    getJson<{ models: Model[] }>("/api/models")
      .then(({ models: list }) => {
        setModels(list);
        setForm((now) =>
          list.some((model) => model.name === now.model) ? now : { ...now, model: list[0]?.name ?? "" },
        );
      })
      .catch(setLoadError);
    getJson<{ jobs: Job[] }>("/api/jobs?kind=train&state=succeeded&limit=100")
      .then(({ jobs }) => setSources(loraSources(jobs)))
      .catch(setLoadError);
    // the newest generation is shown at once: coming back to the page finds the last images
    void loadHistory().then((jobs) => setCurrent((now) => now ?? jobs[0] ?? null));
  }, []);

  useEffect(() => {
    localStorage.setItem(FORM_KEY, JSON.stringify(toParams(form)));
  }, [form]);

  const apiError = submitError instanceof ApiError ? submitError : null;
  const errorAt = controlOf(apiError?.body.field);
  /** The API's error beside the control it names (the first bad field), else beside the button. */
  const fieldError = (control: string): ComponentChildren =>
    errorAt === control ? (
      <div id={`gen-${control}-error`}>
        <ErrorBox error={submitError} />
      </div>
    ) : null;
  const invalid = (control: string) =>
    errorAt === control
      ? { "aria-invalid": "true" as const, "aria-errormessage": `gen-${control}-error` }
      : {};

  const set = (change: Partial<GenForm>) => {
    setForm((now) => ({ ...now, ...change }));
    if (errorAt && errorAt in change) setSubmitError(null);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitting(true);
    setSubmitError(null);
    try {
      const job = await sendJson<Job>("/api/jobs", { kind: "gen", params: toParams(form) });
      setCurrent(job);
      setHistory((now) => [job, ...(now ?? [])]);
      // on a phone the images are below the form: bring them into view
      document.querySelector('[data-testid="gen-result"]')?.scrollIntoView({ block: "nearest" });
    } catch (caught) {
      setSubmitError(caught);
    } finally {
      setSubmitting(false);
    }
  };

  const number = (name: NumberField, label: string, limits: { min: number; max?: number; step: number }) => (
    <div>
      <label for={`gen-${name}`}>{label}</label>
      <input
        id={`gen-${name}`}
        type="number"
        name={name}
        data-testid={`gen-${name.replace("_", "-")}`}
        inputMode={limits.step < 1 ? "decimal" : "numeric"}
        required
        {...limits}
        value={form[name]}
        onInput={(e) => set({ [name]: (e.target as HTMLInputElement).value } as Partial<GenForm>)}
        {...invalid(name)}
      />
      {fieldError(name)}
    </div>
  );

  const noModels = models !== null && models.length === 0;
  return (
    <>
      <hgroup>
        <h1>{t("gen.title")}</h1>
        <p>{t("gen.subtitle")}</p>
      </hgroup>
      <ErrorBox error={loadError} />
      <div class="grid" style={{ alignItems: "start" }}>
        <form onSubmit={(e) => void submit(e)} data-testid="gen-form" aria-label={t("gen.form")}>
          <label for="gen-model">{t("gen.model")}</label>
          <select
            id="gen-model"
            name="model"
            data-testid="gen-model"
            required
            disabled={!models || noModels}
            aria-busy={models === null}
            value={form.model}
            onChange={(e) => set({ model: (e.target as HTMLSelectElement).value })}
            aria-describedby={noModels ? "gen-model-help" : undefined}
            {...invalid("model")}
          >
            {noModels ? <option value="">{t("gen.model.none.option")}</option> : null}
            {(models ?? []).map((model) => (
              <option key={model.name} value={model.name}>
                {model.name}
              </option>
            ))}
          </select>
          {noModels ? <small id="gen-model-help">{t("gen.model.none")}</small> : null}
          {fieldError("model")}

          <label for="gen-prompt">{t("gen.prompt")}</label>
          <textarea
            id="gen-prompt"
            name="prompt"
            data-testid="gen-prompt"
            rows={3}
            required
            placeholder={t("gen.prompt.placeholder")}
            value={form.prompt}
            onInput={(e) => set({ prompt: (e.target as HTMLTextAreaElement).value })}
            aria-describedby="gen-prompt-help"
            {...invalid("prompt")}
          />
          <small id="gen-prompt-help" data-testid="gen-prompt-help">
            <SyntaxHelp />
          </small>
          {fieldError("prompt")}

          <label for="gen-negative">{t("gen.negative")}</label>
          <textarea
            id="gen-negative"
            name="negative"
            data-testid="gen-negative"
            rows={2}
            placeholder={t("gen.negative.placeholder")}
            value={form.negative}
            onInput={(e) => set({ negative: (e.target as HTMLTextAreaElement).value })}
            {...invalid("negative")}
          />
          {fieldError("negative")}

          <label for="gen-sampler">{t("gen.sampler")}</label>
          <select
            id="gen-sampler"
            name="sampler"
            data-testid="gen-sampler"
            value={form.sampler}
            onChange={(e) => set({ sampler: (e.target as HTMLSelectElement).value })}
            {...invalid("sampler")}
          >
            {SAMPLERS.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          {fieldError("sampler")}

          <div style={NUMBER_ROW}>
            {number("steps", t("gen.steps"), { min: 1, max: 150, step: 1 })}
            {number("cfg", t("gen.cfg"), { min: 1, max: 30, step: 0.5 })}
            {number("batch_count", t("gen.batch_count"), { min: 1, max: 100, step: 1 })}
          </div>
          <div style={NUMBER_ROW}>
            {number("width", t("gen.width"), { min: 64, max: 2048, step: 8 })}
            {number("height", t("gen.height"), { min: 64, max: 2048, step: 8 })}
          </div>

          <label for="gen-seed">{t("gen.seed")}</label>
          <div role="group">
            <input
              id="gen-seed"
              type="number"
              name="seed"
              data-testid="gen-seed"
              inputMode="numeric"
              required
              min={-1}
              step={1}
              value={form.seed}
              onInput={(e) => set({ seed: (e.target as HTMLInputElement).value })}
              aria-describedby="gen-seed-help"
              {...invalid("seed")}
            />
            <button
              type="button"
              class="secondary outline"
              style={{ flex: "0 0 auto" }}
              data-testid="gen-seed-random"
              onClick={() => set({ seed: "-1" })}
            >
              {t("gen.seed.random")}
            </button>
          </div>
          <small id="gen-seed-help" style={{ display: "block", marginTop: "-0.5rem", marginBottom: "1rem" }}>
            {t("gen.seed.help")}
          </small>
          {fieldError("seed")}

          {form.init ? (
            <Img2ImgFields
              init={form.init}
              strength={form.strength}
              onStrength={(strength) => set({ strength })}
              onClear={() => set({ init: null })}
              error={fieldError("init")}
            />
          ) : (
            <HiresFields
              value={form.hires}
              onChange={(hires) => set({ hires })}
              error={fieldError("hires")}
            />
          )}
          <DetailFields
            value={form.detail}
            onChange={(detail) => set({ detail })}
            error={fieldError("detail_faces")}
          />

          <LoraPicker
            rows={form.loras}
            sources={sources}
            onChange={(loras) => set({ loras })}
            error={fieldError("loras")}
          />

          {submitError && !errorAt ? <ErrorBox error={submitError} /> : null}
          <button
            type="submit"
            data-testid="gen-submit"
            aria-busy={submitting}
            disabled={submitting || !models || noModels}
          >
            {t("gen.submit")}
          </button>
        </form>

        <section aria-labelledby="gen-result-title" data-testid="gen-result">
          <h2 id="gen-result-title">{t("gen.result.title")}</h2>
          {current ? (
            <GenResult
              key={current.id}
              job={current}
              onEnd={(ended) => {
                setHistory((now) => now?.map((job) => (job.id === ended.id ? ended : job)) ?? null);
                void loadHistory();
              }}
              onUseSeed={(seed) => set({ seed: String(seed) })}
              onImg2Img={(init) => {
                set({ init });
                document.querySelector('[data-testid="gen-init"]')?.scrollIntoView({ block: "nearest" });
              }}
            />
          ) : (
            <p>{t("gen.result.empty")}</p>
          )}
        </section>
      </div>

      <GenHistory
        jobs={history}
        currentId={current?.id ?? null}
        onOpen={(job) => setCurrent(job)}
        onReuse={(job) => {
          const reused = fromParams(job.params, form);
          // a model taken out of the models folder since stays out: the form keeps its own
          const known = models?.some((model) => model.name === reused.model);
          set(known ? reused : { ...reused, model: form.model });
          document.querySelector('[data-testid="gen-form"]')?.scrollIntoView({ behavior: "smooth" });
        }}
      />
    </>
  );
}

/** The A1111 prompt syntax in one line: each piece of syntax, and what it does. */
function SyntaxHelp() {
  const { t } = useI18n();
  const parts = ["weight", "lower", "lora", "break"] as const;
  return (
    <>
      {t("gen.syntax")}{" "}
      {parts.map((part, index) => (
        <span key={part}>
          {index > 0 ? " · " : null}
          <code>{t(`gen.syntax.${part}.code`)}</code> {t(`gen.syntax.${part}`)}
        </span>
      ))}
    </>
  );
}

/** Short number fields side by side, also at 375 px (three of 6rem fit); inputs line up at the bottom. */
const NUMBER_ROW = {
  display: "grid",
  gridTemplateColumns: "repeat(auto-fit, minmax(6rem, 1fr))",
  columnGap: "var(--pico-grid-column-gap)",
  alignItems: "end",
};
